defmodule CouncilEx.Providers.Mock do
  @moduledoc """
  A scripted provider for tests: no network, no keys.

      # config/test.exs
      config :council_ex, :providers, mock: [dispatcher: CouncilEx.Providers.Mock]

      # a council seats members with provider: :mock, model: "mock"

      test "the council agrees" do
        Mock.script(:optimist, content: "Go.")
        Mock.script(:skeptic, stream: ["Wa", "it."], chunk_delay_ms: 5)
        Mock.script(:chair, fn %CouncilEx.Request{messages: msgs} -> {:ok, "Go, carefully."} end)
        assert {:ok, result} = CouncilEx.run(MyCouncil, "Go or wait?")
      end

  ## Scripts

  `script(member_id, spec)` sets what every call of that member answers:

    * `content: "..."` - the answer
    * `stream: ["Lo", "rem"]` - the answer in chunks, sent as
      `:member_token` events when the member has `stream: true`;
      `chunk_delay_ms:` waits between chunks
    * `error: :timeout` or `error: [kind: :transient, reason: :rate_limit,
      message: "..."]` - the call fails with that `%CouncilEx.Error{}`
      (`:error` wins over `:content`)
    * `delay_ms:` - wait this long before answering (any spec)
    * a function of the `%CouncilEx.Request{}` returning `{:ok, text}`,
      `{:ok, %CouncilEx.Response{}}` or `{:error, %CouncilEx.Error{} | term}`

  Scripts belong to the process that set them. A call finds its script by
  walking the run's `$callers` chain back to that process, so tests can run
  with `async: true`: each sees only its own scripts. They are dropped by
  `reset/0` or when that process exits.
  """

  @behaviour CouncilEx.Provider
  use GenServer

  alias CouncilEx.{Error, Request, Response, StreamChunk}

  @table __MODULE__

  @doc false
  # Started by CouncilEx.Application: owns the script table and drops the
  # scripts of processes that exit.
  def start_link(_opts), do: GenServer.start_link(__MODULE__, [], name: __MODULE__)

  @impl GenServer
  def init([]) do
    :ets.new(@table, [:named_table, :public, :set, read_concurrency: true])
    {:ok, MapSet.new()}
  end

  @impl GenServer
  def handle_call({:watch, pid}, _from, watched) do
    if MapSet.member?(watched, pid) do
      {:reply, :ok, watched}
    else
      Process.monitor(pid)
      {:reply, :ok, MapSet.put(watched, pid)}
    end
  end

  @impl GenServer
  def handle_info({:DOWN, _ref, :process, pid, _reason}, watched) do
    :ets.match_delete(@table, {{pid, :_}, :_})
    {:noreply, MapSet.delete(watched, pid)}
  end

  @doc "Scripts `member_id` for calls made on behalf of the calling process."
  @spec script(atom() | String.t(), keyword() | (Request.t() -> term())) :: :ok
  def script(member_id, spec) when is_function(spec, 1), do: put(member_id, spec)

  def script(member_id, spec) when is_list(spec) do
    unless Keyword.keyword?(spec) and
             Enum.any?([:content, :stream, :error], &Keyword.has_key?(spec, &1)) do
      raise ArgumentError,
            "Mock.script/2 expects a keyword list with :content, :stream or :error, or a 1-arity function, got: #{inspect(spec)}"
    end

    put(member_id, spec)
  end

  def script(_member_id, spec) do
    raise ArgumentError,
          "Mock.script/2 expects a keyword list or a 1-arity function, got: #{inspect(spec)}"
  end

  @doc "Drops every script the calling process set."
  @spec reset() :: :ok
  def reset do
    :ets.match_delete(@table, {{self(), :_}, :_})
    :ok
  end

  @impl CouncilEx.Provider
  def complete(%Request{} = request, opts), do: stream(request, opts, fn _chunk -> :ok end)

  @impl CouncilEx.Provider
  def stream(%Request{member_id: nil}, _opts, _on_chunk) do
    {:error,
     %Error{kind: :permanent, reason: :missing_member_id, message: "the request names no member"}}
  end

  def stream(%Request{} = request, _opts, on_chunk) do
    case lookup(request.member_id) do
      nil ->
        {:error,
         %Error{
           kind: :permanent,
           reason: :not_scripted,
           message:
             "no Mock script for member #{inspect(request.member_id)}; call CouncilEx.Providers.Mock.script/2 first"
         }}

      spec ->
        answer(spec, request, on_chunk)
    end
  end

  defp answer(fun, request, _on_chunk) when is_function(fun, 1) do
    case fun.(request) do
      {:ok, text} when is_binary(text) ->
        {:ok, response(text, request)}

      {:ok, %Response{} = response} ->
        {:ok, response}

      {:error, _} = error ->
        error

      other ->
        {:error,
         %Error{
           kind: :permanent,
           reason: :bad_script,
           message: "script returned #{inspect(other)}"
         }}
    end
  end

  defp answer(spec, request, on_chunk) do
    if delay = spec[:delay_ms], do: Process.sleep(delay)

    cond do
      spec[:error] -> {:error, error(spec[:error])}
      chunks = spec[:stream] -> {:ok, streamed(chunks, spec[:chunk_delay_ms], request, on_chunk)}
      true -> {:ok, response(spec[:content], request)}
    end
  end

  defp streamed(chunks, delay, request, on_chunk) do
    last = length(chunks) - 1

    chunks
    |> Enum.with_index()
    |> Enum.each(fn {text, i} ->
      if delay && i > 0, do: Process.sleep(delay)
      on_chunk.(%StreamChunk{content: text, index: i, finish_reason: if(i == last, do: :stop)})
    end)

    response(IO.iodata_to_binary(chunks), request)
  end

  defp response(text, request) do
    %Response{
      content: text,
      model: request.model,
      finish_reason: "stop",
      usage: %{input_tokens: words(request.messages), output_tokens: words([%{content: text}])}
    }
  end

  # A deterministic stand-in for token counts.
  defp words(messages) do
    messages |> Enum.map(&length(String.split(&1.content || ""))) |> Enum.sum()
  end

  defp error(kind) when is_atom(kind),
    do: %Error{kind: kind, reason: kind, message: "scripted #{kind}"}

  defp error(opts) when is_list(opts) do
    kind = Keyword.get(opts, :kind, :permanent)
    reason = Keyword.get(opts, :reason, kind)
    %Error{kind: kind, reason: reason, message: Keyword.get(opts, :message, "scripted #{reason}")}
  end

  defp put(member_id, spec) do
    :ok = GenServer.call(__MODULE__, {:watch, self()})
    :ets.insert(@table, {{self(), member_id}, spec})
    :ok
  end

  defp lookup(member_id) do
    Enum.find_value([self() | Process.get(:"$callers", [])], fn pid ->
      case :ets.lookup(@table, {pid, member_id}) do
        [{_, spec}] -> spec
        [] -> nil
      end
    end)
  end
end
