defmodule CouncilEx.Verbose do
  @moduledoc """
  Prints a run's timeline as it happens: `verbose: true` (or `:debug`) on
  `CouncilEx.run/3`, `start/3` and `start_link/3`, or `attach/2` by hand.

      [run-x3F] run started: MyCouncil
      [run-x3F]    +0 ms round 0 :independent_analysis
      [run-x3F]   +41 ms   :optimist ok in 41 ms (12 in / 30 out tokens)
      [run-x3F]   +57 ms   :skeptic error in 57 ms: transient :http_error HTTP 503 ...
      [run-x3F]   +57 ms round :independent_analysis done
      [run-x3F]  +120 ms run completed (partial)

  `:debug` also prints each request as it is sent to the provider (its
  body, with the rendered prompts) and each answer, both cut to 800
  characters.
  """

  alias CouncilEx.{Error, MemberResult, PubSub}

  @cap 800

  @doc """
  Starts an unlinked tracer for `run_id` and returns its pid once it is
  subscribed. It stops on the run's terminal event, or after `:silence_ms`
  (default 10 minutes) without one.

  Options: `:mode` (`true` or `:debug`), `:io` (device, default `:stdio`),
  `:silence_ms`.
  """
  @spec attach(String.t(), keyword()) :: pid()
  def attach(run_id, opts \\ []) do
    parent = self()
    ref = make_ref()

    pid =
      spawn(fn ->
        :ok = PubSub.subscribe(PubSub.run_topic(run_id))
        send(parent, {ref, :subscribed})

        loop(%{
          run_id: run_id,
          mode: Keyword.get(opts, :mode, true),
          io: Keyword.get(opts, :io) || :stdio,
          silence_ms: Keyword.get(opts, :silence_ms, 600_000),
          t0: System.monotonic_time(:millisecond)
        })
      end)

    receive do
      {^ref, :subscribed} -> pid
    end
  end

  defp loop(state) do
    receive do
      {:request, round, member, body} ->
        print(
          state,
          "#{t(state)}   #{inspect(member)} request (#{inspect(round)}):\n" <> cap(body)
        )

        loop(state)

      event when is_tuple(event) and elem(event, 1) == state.run_id ->
        print(state, line(event, state))
        unless elem(event, 0) in [:run_completed, :run_failed], do: loop(state)
    after
      state.silence_ms -> :ok
    end
  end

  defp line({:run_started, _, council, _input}, _s), do: "run started: #{inspect(council)}"
  defp line({:round_started, _, name, idx}, s), do: "#{t(s)} round #{idx} #{inspect(name)}"
  defp line({:member_started, _, _, _}, _s), do: nil
  defp line({:member_token, _, _, _, _}, _s), do: nil
  defp line({:round_completed, _, name, _}, s), do: "#{t(s)} round #{inspect(name)} done"
  defp line({:run_completed, _, result}, s), do: "#{t(s)} run completed (#{result.status})"

  defp line({:run_failed, _, errors, _}, s),
    do: "#{t(s)} run failed: #{Enum.map_join(errors, "; ", &Exception.message/1)}"

  defp line({:member_completed, _, _, id, %MemberResult{} = r}, s) do
    head = "#{t(s)}   #{inspect(id)} #{r.status} in #{r.latency_ms} ms"

    case r do
      %{status: :ok, response: resp} ->
        usage = resp.usage || %{}

        tokens =
          " (#{usage[:input_tokens] || "?"} in / #{usage[:output_tokens] || "?"} out tokens)"

        if s.mode == :debug, do: head <> tokens <> "\n" <> cap(resp.content), else: head <> tokens

      %{error: %Error{} = e} ->
        head <> ": " <> Exception.message(e)
    end
  end

  defp line(_other, _s), do: nil

  defp print(_state, nil), do: :ok
  defp print(state, text), do: IO.puts(state.io, "[#{state.run_id}] " <> text)

  defp t(s), do: String.pad_leading("+#{System.monotonic_time(:millisecond) - s.t0}", 6) <> " ms"

  defp cap(text) when byte_size(text) > @cap, do: String.slice(text, 0, @cap) <> "..."
  defp cap(text), do: text
end
