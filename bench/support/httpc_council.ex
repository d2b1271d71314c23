defmodule CouncilEx.Bench.HttpcCouncil do
  @moduledoc """
  The benchmark's baseline: the council the engine runs (five members in
  parallel, then a chair whose prompt holds their answers), written the way
  a pure-Elixir library would write it, with OTP's `:httpc` for HTTP and
  `CouncilEx.JSON` for the bodies.

  It renders the same requests as the C round loop (same messages, same
  chair prompt) so that both sides move the same bytes. Call
  `start_profile/0` once before `run/2`.
  """

  alias CouncilEx.JSON

  @profile :council_ex_bench
  @members for i <- 1..5, do: {"m#{i}", "bench-model-#{i}"}
  @chair_model "bench-chair"
  @api_key "bench-key"

  @chair_system "You are the chair of an LLM council. Several models answered the same " <>
                  "question independently; you write the council's one final answer."

  @doc """
  Starts the dedicated `:httpc` profile, tuned to be fair to `:httpc`: as
  many keep-alive connections as the other clients get (64), and requests
  queued on them rather than refused.
  """
  @spec start_profile() :: :ok
  def start_profile do
    {:ok, _} = Application.ensure_all_started(:inets)

    case :inets.start(:httpc, profile: @profile) do
      {:ok, _pid} -> :ok
      {:error, {:already_started, _pid}} -> :ok
    end

    :httpc.set_options(
      [max_sessions: 64, max_keep_alive_length: 1000, keep_alive_timeout: 60_000],
      @profile
    )
  end

  @doc """
  Runs one council over `question` against the OpenAI-compatible server at
  `base_url` (e.g. `"http://127.0.0.1:8080/v1"`). Returns the chair's
  answer, or the first error of any call.
  """
  @spec run(String.t(), String.t()) :: {:ok, String.t()} | {:error, term()}
  def run(base_url, question) do
    url = String.to_charlist(base_url <> "/chat/completions")

    answers =
      @members
      |> Enum.map(fn {_id, model} ->
        Task.async(fn -> complete(url, model, [message("user", question)]) end)
      end)
      |> Task.await_many(:infinity)

    with {:ok, answers} <- collect(answers) do
      messages = [
        message("system", @chair_system),
        message("user", chair_prompt(question, answers))
      ]

      complete(url, @chair_model, messages)
    end
  end

  defp collect(results) do
    Enum.reduce_while(results, {:ok, []}, fn
      {:ok, answer}, {:ok, acc} -> {:cont, {:ok, [answer | acc]}}
      {:error, _} = error, _acc -> {:halt, error}
    end)
    |> case do
      {:ok, answers} -> {:ok, Enum.reverse(answers)}
      error -> error
    end
  end

  # The chair's user message, as c_src/round_loop.c renders it.
  defp chair_prompt(question, answers) do
    sections =
      @members
      |> Enum.zip(answers)
      |> Enum.map(fn {{id, model}, answer} -> "\n### Member #{id} (#{model})\n#{answer}\n" end)

    IO.iodata_to_binary([
      "Question:\n",
      question,
      "\n\nThe council's members answered independently:\n",
      sections,
      "\nWrite the council's final answer. Combine the strongest points, settle ",
      "disagreements, and say what remains uncertain.\n"
    ])
  end

  defp message(role, content), do: %{"role" => role, "content" => content}

  defp complete(url, model, messages) do
    body = JSON.encode!(%{"model" => model, "messages" => messages})
    headers = [{~c"authorization", ~c"Bearer " ++ String.to_charlist(@api_key)}]
    request = {url, headers, ~c"application/json", body}
    http_opts = [timeout: 120_000, connect_timeout: 10_000]

    case :httpc.request(:post, request, http_opts, [body_format: :binary], @profile) do
      {:ok, {{_, 200, _}, _headers, reply}} -> content(reply)
      {:ok, {{_, status, _}, _headers, reply}} -> {:error, {:http_status, status, reply}}
      {:error, reason} -> {:error, reason}
    end
  end

  defp content(reply) do
    case JSON.decode!(reply) do
      %{"choices" => [%{"message" => %{"content" => content}} | _]} when is_binary(content) ->
        {:ok, content}

      other ->
        {:error, {:unexpected_reply, other}}
    end
  end
end
