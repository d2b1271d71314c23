defmodule CouncilEx.NativeTest do
  # The NIF boundary itself: the spec map's key contract (c_src/nif/spec_nif.c),
  # compiled schemas and the enumerations of c_src/enums.def.
  use ExUnit.Case, async: true

  alias CouncilEx.Native

  @seat %{id: "m0", model: "x", external: true}
  @spec_map %{input: "q", seats: [@seat], rounds: [%{kind: :independent_analysis}]}

  defp invalid(spec) do
    assert {:error, {:invalid_spec, why}} = Native.run_start(spec, make_ref())
    why
  end

  describe "run_start/2's spec" do
    test "a minimal spec runs" do
      tag = make_ref()
      assert {:ok, run} = Native.run_start(@spec_map, tag)
      assert_receive {:council_ex_run, ^tag, events}

      assert {:call, 0, 0, 0, body, 0} = List.keyfind(events, :call, 0),
             "no timeout_ms: the attempt is unbounded"

      assert is_binary(body)
      :ok = Native.run_cancel(run)
    end

    test "an external call is told how long its attempt may take" do
      for {limits, want} <- [
            {%{timeout_ms: 5_000}, 5_000},
            {%{timeout_ms: 5_000, request_timeout_ms: 2_000}, 2_000},
            {%{timeout_ms: 5_000, request_timeout_ms: 9_000}, 5_000}
          ] do
        tag = make_ref()
        spec = %{@spec_map | seats: [Map.merge(@seat, limits)]}
        assert {:ok, run} = Native.run_start(spec, tag)
        assert_receive {:council_ex_run, ^tag, events}
        # The clock ran a little between the call's start and the attempt.
        assert {:call, 0, 0, 0, _body, timeout} = List.keyfind(events, :call, 0)
        assert timeout <= want and timeout > want - 1_000, inspect({limits, timeout})
        :ok = Native.run_cancel(run)
      end
    end

    test "unknown keys are refused, naming the map and the key" do
      assert invalid(Map.put(@spec_map, :bogus, 1)) == "spec: unknown key bogus"

      assert invalid(%{@spec_map | seats: [@seat, Map.put(@seat, :colour, "red")]}) ==
               "seat 1: unknown key colour"

      assert invalid(%{@spec_map | rounds: [%{kind: :vote, quroum: 2}]}) ==
               "round 0: unknown key quroum"

      tool = %{name: "t", description: "d", parameters: "{}", strict: true}
      seat = Map.merge(@seat, %{external: false, codec: "openai", tools: [tool]})
      assert invalid(%{@spec_map | seats: [seat]}) == "seat 0 tool 0: unknown key strict"
    end

    test "an external seat has no endpoint keys" do
      assert invalid(%{@spec_map | seats: [Map.put(@seat, :base_url, "http://x")]}) ==
               "seat 0: unknown key base_url"
    end

    test "required keys must be there; optional ones may be nil" do
      assert invalid(Map.delete(@spec_map, :input)) == "spec: missing key input"

      assert invalid(%{@spec_map | seats: [Map.delete(@seat, :model)]}) ==
               "seat 0: missing key model"

      assert invalid(%{@spec_map | seats: [%{@seat | external: false}]}) ==
               "seat 0: missing key codec"

      assert invalid(%{@spec_map | rounds: [%{order: :stable}]}) == "round 0: missing key kind"

      seat = Map.merge(@seat, %{weight: nil, confidence: nil, output_schema: nil})

      assert {:ok, run} =
               Native.run_start(Map.merge(@spec_map, %{seats: [seat], seed: nil}), make_ref())

      :ok = Native.run_cancel(run)
    end

    test "values of the wrong type are refused" do
      assert invalid(%{@spec_map | rounds: [%{kind: :voting}]}) ==
               "round 0: bad value for key kind"

      assert invalid(%{@spec_map | seats: [%{@seat | model: <<"a", 0>>}]}) ==
               "seat 0: bad value for key model"

      assert invalid(%{@spec_map | seats: [Map.put(@seat, :output_schema, "{}")]}) ==
               "seat 0: bad value for key output_schema"

      cap = CouncilEx.Enums.limit(:max_tool_calls)

      assert invalid(%{@spec_map | seats: [Map.put(@seat, :max_tool_calls, cap + 1)]}) ==
               "seat 0: bad value for key max_tool_calls"
    end
  end

  describe "schema_compile/1" do
    test "compiles once; seats share the compiled schema" do
      assert {:ok, schema} = Native.schema_compile(~s({"type":"object"}))
      seats = for i <- 0..2, do: %{@seat | id: "m#{i}"} |> Map.put(:output_schema, schema)
      assert {:ok, run} = Native.run_start(%{@spec_map | seats: seats}, make_ref())
      :ok = Native.run_cancel(run)
    end

    test "a bad schema is an error message" do
      assert {:error, why} = Native.schema_compile(~s({"type":"widget"}))
      assert why =~ "widget"
      assert {:error, _} = Native.schema_compile("not json")
    end
  end

  test "enums/0 lists enums.def's enumerations in order" do
    enums = Native.enums()

    assert [:independent_analysis, :peer_review | _] = enums.round_kinds
    assert List.last(enums.round_kinds) == :custom
    assert enums.orders == [:per_judge, :shuffle, :stable]
    assert enums.ties == [:first, :random, :caller]
    assert hd(enums.aggregators) == :none and :peer_ranking in enums.aggregators
    assert enums.confidences == [:none, :self_report, :logprob]
    assert enums.error_kinds == [:ok, :transient, :permanent, :timeout, :cancelled]
    assert enums.stops == [:none, :stop, :length, :tool_calls, :content_filter, :other]
    assert :quorum_not_met in enums.reasons and :invalid_output in enums.reasons

    # The library was built from the same table the Elixir side read when
    # it compiled: one source, no drift.
    assert enums == CouncilEx.Enums.tables()
  end
end
