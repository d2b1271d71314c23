defmodule CouncilEx.Test do
  @moduledoc """
  Helpers for testing code that runs councils, on the
  `CouncilEx.Providers.Mock` provider.

      use ExUnit.Case, async: true
      import CouncilEx.Test

      test "the panel agrees" do
        script_council(MyCouncil, %{optimist: "Go.", skeptic: "Wait.", chair: "Go, carefully."})
        {:ok, pid} = CouncilEx.start(MyCouncil, "Go or wait?", subscribe: true)
        run_id = CouncilEx.RunServer.run_id(pid)
        round = assert_round_completed(:independent_analysis, run_id)
        assert length(round.member_results) == 2
      end
  """

  alias CouncilEx.{Plan, Providers.Mock}

  @events [:run_started, :round_started, :member_started, :member_token, :tool_call_request] ++
            [:tool_call_result, :member_completed, :round_completed]

  @doc """
  Scripts every Mock-backed seat of `council` (members and chair) for the
  calling process. `content` is one text for all, a map of member id to
  text, or `fn id, module -> text end`. Seats on other providers, and ids
  missing from the map, are left alone.
  """
  @spec script_council(
          CouncilEx.council(),
          String.t() | map() | (term(), module() | nil -> String.t())
        ) :: :ok
  def script_council(council, content) do
    {:ok, spec} = CouncilEx.spec(council)

    for {id, module, opts} <- CouncilEx.Spec.seats(spec),
        mock?(opts[:provider]),
        text = text_for(content, id, module),
        is_binary(text) do
      Mock.script(id, content: text)
    end

    :ok
  end

  defp mock?(provider), do: Plan.dispatcher(provider) == Mock

  defp text_for(text, _id, _module) when is_binary(text), do: text
  defp text_for(map, id, _module) when is_map(map), do: Map.get(map, id)
  defp text_for(fun, id, module) when is_function(fun, 2), do: fun.(id, module)

  @doc """
  Subscribes to `run_id` and collects its events until the terminal one
  (or `timeout` ms of silence), in order. Events broadcast before the call
  are missed: start the run with `subscribe: true` and collect from the
  mailbox when that matters.
  """
  @spec capture_events(String.t(), timeout()) :: [tuple()]
  def capture_events(run_id, timeout \\ 5000) do
    :ok = CouncilEx.subscribe(run_id)
    collect(run_id, timeout, [])
  end

  defp collect(run_id, timeout, acc) do
    receive do
      {:run_failed, ^run_id, _, _} = event ->
        Enum.reverse([event | acc])

      {:run_completed, ^run_id, _} = event ->
        Enum.reverse([event | acc])

      {type, ^run_id, _, _} = event when type in @events ->
        collect(run_id, timeout, [event | acc])

      {type, ^run_id, _, _, _} = event when type in @events ->
        collect(run_id, timeout, [event | acc])
    after
      timeout -> Enum.reverse(acc)
    end
  end

  @doc """
  Asserts that `{:round_completed, run_id, round_name, round}` arrives
  within `timeout` ms and returns the `%CouncilEx.RoundResult{}`. The
  caller must already be subscribed.
  """
  defmacro assert_round_completed(round_name, run_id, timeout \\ 1000) do
    quote do
      run_id = unquote(run_id)
      round_name = unquote(round_name)

      ExUnit.Assertions.assert_receive(
        {:round_completed, ^run_id, ^round_name, round},
        unquote(timeout)
      )

      round
    end
  end
end
