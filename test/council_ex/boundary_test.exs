defmodule CouncilEx.BoundaryTest do
  # One rule set, checked once, before any process starts: what was found
  # wrong (a bad seat option that killed the caller, options silently
  # ignored, layers that disagreed), pinned; and a property test that keeps
  # validate/2 and the start functions from drifting apart again.
  use ExUnit.Case, async: true

  import CouncilEx.Test

  alias CouncilEx.{DynamicCouncil, DynamicMember, DynamicRound, Error, Result, Rounds, Spec}
  alias CouncilEx.Providers.Mock
  alias CouncilEx.TestCouncils

  setup context do
    sup = Module.concat(__MODULE__, "Sup#{context.line}")
    start_supervised!({CouncilEx.Supervisor, name: sup})
    %{sup: sup}
  end

  @starts [:validate, :run, :start, :start_link, :supervisor]

  # Every way a council is checked or started, with the same council.
  defp attempt(:validate, _sup, council, _input, opts), do: CouncilEx.validate(council, opts)

  defp attempt(:supervisor, sup, council, input, opts),
    do: CouncilEx.Supervisor.start_link(sup, council, input, opts)

  defp attempt(fun, _sup, council, input, opts), do: apply(CouncilEx, fun, [council, input, opts])

  # The Mocked council with one more option on its first member.
  defp spec_with(key, value) do
    spec = TestCouncils.Mocked.__council__()
    [{id, module, opts} | rest] = spec.members
    %Spec{spec | members: [{id, module, opts ++ [{key, value}]} | rest]}
  end

  defp assert_refused(sup, council, message, path) do
    links = Process.info(self(), :links)

    for start <- @starts do
      case attempt(start, sup, council, "q", []) do
        {:error, [%{path: ^path, message: m} | _]} when start == :validate ->
          assert m =~ message

        {:error, %Error{kind: :validation, message: m, context: %{errors: [%{path: ^path} | _]}}} ->
          assert m =~ message

        other ->
          flunk(
            "#{start}: expected a validation error at #{inspect(path)}, got: #{inspect(other)}"
          )
      end
    end

    assert Process.info(self(), :links) == links, "nothing started, nothing linked"
  end

  describe "a bad seat option is refused by every entry point, naming the member and the option" do
    for {key, value, message} <- [
          {:temperature, "hot",
           "member :optimist: expected temperature to be a number from 0 to 2"},
          {:temperature, 7, "member :optimist: expected temperature to be a number from 0 to 2"},
          {:max_tokens, "300", "member :optimist: expected max_tokens to be a positive integer"},
          {:stream, "yes", "member :optimist: expected stream to be a boolean"},
          {:retyr, {3, 100}, "member :optimist: unknown option :retyr; known options:"},
          {:timeout_ms, -5, "member :optimist: expected timeout_ms to be a positive integer"},
          {:system_prompt, :atom,
           "member :optimist: expected system_prompt to be a non-empty string"},
          {:model, "m\r\nX-Evil: 1", "member :optimist: expected model to be"},
          {:retry, {500, 10}, "member :optimist: expected retry to be {max_attempts, base_ms}"},
          {:weight, -1, "member :optimist: expected weight to be a number >= 0"},
          {:confidence, :vibes, "member :optimist: expected confidence to be one of"},
          {:fallback, [:skeptic], "member :optimist: fallback is a chair option"},
          {:tool_concurrency_factor, 0,
           "member :optimist: expected tool_concurrency_factor to be a positive number"},
          {:max_tool_calls, 1025,
           "member :optimist: expected max_tool_calls to be a positive integer (at most 1024)"},
          {:request_timeout_ms, 0,
           "member :optimist: expected request_timeout_ms to be a positive integer"}
        ] do
      test "#{key}: #{inspect(value)}", %{sup: sup} do
        key = unquote(key)

        assert_refused(sup, spec_with(key, unquote(Macro.escape(value))), unquote(message), [
          "members",
          0,
          to_string(key)
        ])

        # A council module with it does not compile: the error is at the
        # member's line.
        source = """
        defmodule CouncilEx.BoundaryTest.Bad#{System.unique_integer([:positive])} do
          use CouncilEx
          member :optimist, provider: :mock, model: "m", #{key}: #{inspect(unquote(Macro.escape(value)))}
        end
        """

        assert_raise CompileError, ~r/^nofile:3: .*#{Regex.escape(unquote(message))}/, fn ->
          Code.compile_string(source)
        end
      end
    end

    test "a dynamic council edited by hand is refused the same way", %{sup: sup} do
      member = %DynamicMember{
        id: "a",
        system_prompt: "A.",
        profile_overrides: %{provider: :mock, model: "m", temperature: "hot"}
      }

      council = %DynamicCouncil{id: "hand", members: [member]}

      assert_refused(sup, council, "expected temperature to be a number from 0 to 2", [
        "members",
        0,
        "profile_overrides",
        "temperature"
      ])
    end
  end

  describe "layers that disagreed now agree" do
    test "duplicate vote options are refused up front", %{sup: sup} do
      spec = %Spec{
        TestCouncils.Mocked.__council__()
        | rounds: [{Rounds.Vote, [options: ["ship", "ship"]]}, {Rounds.Synthesis, []}]
      }

      assert_refused(
        sup,
        spec,
        "round :vote: expected options to be a list of distinct strings",
        [
          "rounds",
          0,
          "options"
        ]
      )
    end

    test "a chair round needs a round before it: the engine refused it at run start", %{sup: sup} do
      spec = %Spec{TestCouncils.Mocked.__council__() | rounds: [{Rounds.Synthesis, []}]}
      assert_refused(sup, spec, "add a round before it", ["rounds", 0])
    end

    test "a retry of 500 attempts is refused in a profile, as everywhere" do
      assert {:error, message} = CouncilEx.Profile.fetch(retry: {500, 10})
      assert message =~ "max_attempts from 1 to 100"
    end

    test "a custom round must build each member's message" do
      defmodule NameOnly do
        def name, do: :name_only
      end

      spec = %Spec{TestCouncils.Mocked.__council__() | rounds: [{NameOnly, []}]}

      assert {:error, [%{path: ["rounds", 0], code: :unknown_round, message: m}]} =
               CouncilEx.validate(spec)

      assert m =~ "not a round module (name/0 and build_input/3"
    end

    test "a weight of 0 counts as 0 (it used to count as 1 in C)" do
      spec = %Spec{
        council: __MODULE__,
        members: [
          {:light, nil, [provider: :mock, model: "m", weight: 0]},
          {:heavy, nil, [provider: :mock, model: "m", weight: 3]}
        ],
        chair: {:chair, nil, [provider: :mock, model: "m"]},
        rounds: [{Rounds.IndependentAnalysis, []}, {Rounds.WeightedSynthesis, []}]
      }

      test_pid = self()
      Mock.script(:light, content: "Light.")
      Mock.script(:heavy, content: "Heavy.")

      Mock.script(:chair, fn request ->
        send(test_pid, {:chair_saw, List.last(request.messages).content})
        {:ok, "Done."}
      end)

      assert {:ok, _} = CouncilEx.run(spec, "q")
      assert_received {:chair_saw, prompt}
      assert prompt =~ "Member light (m) - weight 0.00"
      assert prompt =~ "Member heavy (m) - weight 1.00"
    end

    test "an iterate round's until_ref stops it (it used to be refused when lowered)" do
      defmodule StopAtOnce do
        def select(_input, _ctx), do: []
        def until(_prev, _curr), do: true
      end

      :ok = CouncilEx.Registry.register_router("boundary_stop", StopAtOnce)
      on_exit(fn -> CouncilEx.Registry.unregister(:router, "boundary_stop") end)

      council =
        DynamicCouncil.new("until")
        |> DynamicCouncil.add_member(
          id: "a",
          system_prompt: "A.",
          profile_overrides: [provider: :mock, model: "m"]
        )
        |> DynamicCouncil.add_round(
          type: "iterate",
          opts: %{"wrap" => "critique", "until_ref" => "boundary_stop", "max_iterations" => 3}
        )

      Mock.script("a", content: "Same.")
      assert :ok = CouncilEx.validate(council)
      assert {:ok, %Result{rounds: rounds}} = CouncilEx.run(council, "q")
      assert Enum.map(rounds, & &1.name) == [:critique]
    end
  end

  describe "the input" do
    test "a string, a map or a list of messages; nothing else" do
      for input <- [{:question, "q"}, &String.upcase/1, self(), [1, 2], [], "nul\0byte", <<0xFF>>] do
        assert {:error, %Error{kind: :validation, reason: :invalid_input}} =
                 CouncilEx.run(TestCouncils.Mocked, input)
      end

      test_pid = self()

      Mock.script(:optimist, fn request ->
        send(test_pid, {:asked, List.last(request.messages).content})
        {:ok, "fine"}
      end)

      script_council(TestCouncils.Mocked, %{skeptic: "ok", chair: "ok"})

      messages = [
        %{role: "system", content: "Be brief."},
        %{"role" => "user", "content" => "Ship?"}
      ]

      assert {:ok, _} = CouncilEx.run(TestCouncils.Mocked, messages)
      assert_received {:asked, "system: Be brief.\nuser: Ship?"}

      assert {:ok, _} =
               CouncilEx.run(TestCouncils.Mocked, %{question: "Go?", budget: 3, tags: ["a"]})

      assert_received {:asked, "Go?\nbudget: 3\ntags: [\"a\"]"}
    end
  end

  describe "await/2 never raises or exits" do
    test "unknown runs, dead pids, short timeouts, runs killed meanwhile" do
      assert CouncilEx.await("no-such-run") == {:error, :unknown_run}
      dead = spawn(fn -> :ok end)
      Process.sleep(10)
      assert CouncilEx.await(dead) == {:error, :unknown_run}

      Mock.script(:optimist, content: "x", delay_ms: 5_000)
      Mock.script(:skeptic, content: "x", delay_ms: 5_000)
      {:ok, pid} = CouncilEx.start(TestCouncils.Mocked, "q")
      assert CouncilEx.await(pid, 10) == {:error, :timeout}
      assert Process.alive?(pid), "the run goes on"

      waiter = Task.async(fn -> CouncilEx.await(pid, 5_000) end)
      # Kill the run only once the waiter is inside the call, however slow
      # the machine.
      wait_until(fn ->
        match?({:current_function, {:gen, _, _}}, Process.info(waiter.pid, :current_function))
      end)

      Process.exit(pid, :kill)
      assert Task.await(waiter) == {:error, {:down, :killed}}
    end
  end

  describe "validate/2 says :ok exactly when a run starts" do
    # Generated councils (as specs: what council modules compile to, and
    # as dynamic councils: what JSON holds), with seat, round and run
    # options drawn from valid and invalid values. For each: validate/2,
    # then start/3; a started run must end without the engine rejecting
    # it.
    @tag timeout: 300_000
    test "on a few thousand generated option sets" do
      seed = ExUnit.configuration()[:seed]
      :rand.seed(:exsss, {seed, 11, 2026})
      Mock.script(:a, content: "ok")
      Mock.script(:b, content: "ok")
      Mock.script(:chair, content: "ok")
      Mock.script("a", content: "ok")
      Mock.script("b", content: "ok")
      Mock.script("chair", content: "ok")

      counts =
        for i <- 1..4_000, reduce: %{ok: 0, refused: 0} do
          acc ->
            {kind, council, run_opts} = if rem(i, 3) == 0, do: dynamic_case(), else: spec_case()
            valid? = CouncilEx.validate(council, run_opts) == :ok

            case CouncilEx.start(council, "q", run_opts) do
              {:ok, pid} ->
                assert valid?,
                       "#{kind} case #{i} started but validate/2 refused it: #{inspect(council)} #{inspect(run_opts)}"

                assert_clean_end(pid, kind, i, council)
                Map.update!(acc, :ok, &(&1 + 1))

              {:error, %Error{kind: :validation}} = error ->
                refute valid?,
                       "#{kind} case #{i}: validate/2 said :ok, start said #{inspect(error)}: #{inspect(council)} #{inspect(run_opts)}"

                Map.update!(acc, :refused, &(&1 + 1))
            end
        end

      # Both sides of the property were exercised.
      assert counts.ok > 200 and counts.refused > 200, inspect(counts)
    end
  end

  defp wait_until(fun, tries \\ 500) do
    cond do
      fun.() -> :ok
      tries == 0 -> flunk("the condition never held")
      true -> sleep_then(fn -> wait_until(fun, tries - 1) end)
    end
  end

  defp sleep_then(fun) do
    Process.sleep(10)
    fun.()
  end

  # A run that started ends in :run_completed or :run_failed, never
  # because the engine refused its spec.
  defp assert_clean_end(pid, kind, i, council) do
    result =
      case CouncilEx.await(pid, 30_000) do
        {:ok, %Result{} = r} -> r
        {:error, %Result{} = r} -> r
      end

    for %Error{reason: reason} = e <- result.errors,
        do:
          refute(
            reason in [:invalid_spec, :overloaded],
            "#{kind} case #{i}: #{inspect(e)} for #{inspect(council)}"
          )

    CouncilEx.terminate_run(pid)
  end

  ## Generators

  defp pick(list), do: Enum.random(list)
  defp maybe(list, p), do: Enum.filter(list, fn _ -> :rand.uniform() < p end)

  @seat_values [
    temperature: [0, 0.7, 2, -1, 3, "hot"],
    max_tokens: [1, 300, 0, "300"],
    stream: [true, false, "yes"],
    retry: [{1, 0}, {3, 10}, {0, 10}, {500, 10}, 3],
    timeout_ms: [5_000, 0, -5],
    connect_timeout_ms: [1_000, 0],
    system_prompt: ["Be brief.", :atom, "", "nul\0"],
    weight: [0, 1, 2.5, -1, "heavy"],
    confidence: [:self_report, :logprob, :vibes],
    max_tool_turns: [1, 8, 0, 1001],
    output_schema: [%{"type" => "object"}, %{"type" => "nope"}, "schema"],
    parallel_tools_strategy: [:collect, :fail_fast, :random],
    tool_choice: [:auto, :none, :sometimes],
    tool_concurrency_factor: [2, 0.5, 0, "fast"],
    max_tool_calls: [1, 128, 0, 1025],
    request_timeout_ms: [1_000, 0],
    retyr: [{3, 100}]
  ]

  defp seat_opts(strings?) do
    for {key, values} <- maybe(@seat_values, 0.05) do
      value = pick(values)

      if strings? and is_atom(value) and value not in [true, false],
        do: {key, to_string(value)},
        else: {key, value}
    end
  end

  @round_kinds [
    :independent_analysis,
    :peer_review,
    :critique,
    :ranking,
    :vote,
    :anonymized_peer_review
  ]

  defp round_opts(kind) do
    common = [
      quorum: [1, 2, 3, 0],
      order: [:stable, :per_judge, :random],
      include_self: [true, "yes"],
      aggregator: [:borda, :plurality, :loudest, nil]
    ]

    own =
      case kind do
        :vote -> [options: [["x", "y"], ["x", "x"], [], [:x]]]
        _ -> []
      end

    for {key, values} <- maybe(common ++ own, 0.15), do: {key, pick(values)}
  end

  defp rounds do
    first = pick(@round_kinds)
    rounds = [{first, round_opts(first)}]

    rounds =
      if :rand.uniform() < 0.2,
        do:
          rounds ++
            [
              {:iterate,
               [
                 wrap: pick([:critique, :vote, :iterate]),
                 max_iterations: pick([1, 2, 0, 100_001])
               ]}
            ],
        else: rounds

    if :rand.uniform() < 0.05, do: [{:synthesis, []} | rounds], else: rounds
  end

  defp run_opts do
    values = [
      retry: [{1, 0}, {0, 0}],
      member_timeout_ms: [5_000, 0],
      max_response_bytes: [1_000_000, -1],
      colour: [:red],
      verbose: [false, :loud]
    ]

    for {key, vs} <- maybe(values, 0.08), do: {key, pick(vs)}
  end

  defp spec_case do
    seat = fn id -> {id, nil, [provider: :mock, model: "m"] ++ seat_opts(false)} end
    chair? = :rand.uniform() < 0.7
    chair = if chair?, do: seat.(:chair)

    chair =
      if chair && :rand.uniform() < 0.2,
        do: put_elem(chair, 2, elem(chair, 2) ++ [fallback: pick([[:a], [:zed], :members])]),
        else: chair

    rounds =
      for {kind, opts} <- rounds() do
        {:ok, module} = Rounds.module_for(kind)
        {module, opts}
      end

    spec = %Spec{
      council: __MODULE__,
      members: [seat.(:a), seat.(:b)],
      chair: chair,
      rounds: Spec.complete_rounds(rounds, chair != nil)
    }

    {:spec, spec, run_opts()}
  end

  defp dynamic_case do
    member = fn id ->
      %DynamicMember{
        id: id,
        system_prompt: "S.",
        profile_overrides: Map.new([provider: :mock, model: "m"] ++ seat_opts(true))
      }
    end

    council = %DynamicCouncil{
      id: "gen",
      members: [member.("a"), member.("b")],
      chair: if(:rand.uniform() < 0.7, do: member.("chair")),
      rounds:
        for(
          {kind, opts} <- rounds(),
          do: %DynamicRound{type: to_string(kind), opts: Map.new(opts)}
        )
    }

    {:dynamic, council, run_opts()}
  end
end

defmodule CouncilEx.BoundaryCountsTest do
  # Counts atoms and loaded modules, which every test changes: not async,
  # so nothing else runs meanwhile.
  use ExUnit.Case, async: false

  alias CouncilEx.Councils.LLMCouncil

  describe "prebuilt topologies" do
    test "new/1 called per request costs no atoms and no modules after the first call" do
      opts = [
        members: [a: [provider: :mock, model: "m"], b: [provider: :mock, model: "m"]],
        chair: [provider: :mock, model: "c"]
      ]

      first = LLMCouncil.new(opts)
      ^first = LLMCouncil.new(opts)
      atoms = :erlang.system_info(:atom_count)
      modules = length(:code.all_loaded())

      for _ <- 1..10_000, do: ^first = LLMCouncil.new(opts)

      assert :erlang.system_info(:atom_count) == atoms
      assert length(:code.all_loaded()) == modules

      # Other options, another module; the same ones, the same module again.
      other = LLMCouncil.new(Keyword.put(opts, :order, :stable))
      assert other != first
      assert LLMCouncil.new(Keyword.put(opts, :order, :stable)) == other
    end
  end
end

defmodule CouncilEx.RunStartSchedulingTest do
  # Where a run start runs, read from the NIF's own count of its
  # scheduling decisions. Not async: nothing else starts runs meanwhile.
  use ExUnit.Case, async: false

  alias CouncilEx.Native

  test "a start whose prompts weigh 10 MB moves to a dirty scheduler, whatever its input" do
    # 100 seats with 100 KB system prompts and a 2-byte input: reading it
    # held a normal scheduler for ~22 ms when only the input was weighed.
    prompt = String.duplicate("Be careful. ", 8_500)

    seats = for i <- 1..100, do: %{id: "m#{i}", model: "x", external: true, system_prompt: prompt}

    spec = %{input: "q", seats: seats, rounds: [%{kind: :independent_analysis}]}
    small = %{spec | seats: [%{id: "m", model: "x", external: true}]}
    before = Native.stats()

    for spec <- [spec, spec, small] do
      assert {:ok, run} = Native.run_start(spec, make_ref())
      :ok = Native.run_cancel(run)
    end

    stats = Native.stats()

    assert Map.get(stats.dirty_calls, :run_start, 0) - Map.get(before.dirty_calls, :run_start, 0) ==
             2

    assert Map.get(stats.normal_calls, :run_start, 0) -
             Map.get(before.normal_calls, :run_start, 0) == 1
  end
end

defmodule CouncilEx.HostileValuesTest do
  # Values the wire cannot carry (CR, LF or NUL in the input, a model, an
  # API key, a header or a base URL) are refused by validation, by every
  # start function, and never exit the caller. Not async: provider config
  # is global.
  use ExUnit.Case, async: false

  alias CouncilEx.Error

  defmodule Council do
    @moduledoc false
    use CouncilEx
    member(:a, provider: :hostile, model: "m")
  end

  @good [
    adapter: CouncilEx.Provider.Adapters.OpenAI,
    api_key: "k",
    base_url: "http://127.0.0.1:1/v1"
  ]

  setup do
    previous = Application.get_env(:council_ex, :providers, [])
    on_exit(fn -> Application.put_env(:council_ex, :providers, previous) end)
    sup = start_supervised!({CouncilEx.Supervisor, name: __MODULE__.Sup})
    %{previous: previous, sup: sup}
  end

  defp starts(sup, input, opts) do
    [
      validate: fn -> CouncilEx.validate(Council, opts) end,
      run: fn -> CouncilEx.run(Council, input, opts) end,
      start: fn -> CouncilEx.start(Council, input, opts) end,
      start_link: fn -> CouncilEx.start_link(Council, input, opts) end,
      supervisor: fn -> CouncilEx.Supervisor.start_link(sup, Council, input, opts) end
    ]
  end

  for {what, config, input} <- [
        {"input", [], "text \0 here"},
        {"api_key with CRLF", [api_key: "k\r\nX-Evil: 1"], "q"},
        {"api_key with NUL", [api_key: "k\0"], "q"},
        {"a header value", [headers: [{"x-team", "a\r\nX-Evil: 1"}]], "q"},
        {"a header name", [headers: [{"x-te\0am", "a"}]], "q"},
        {"base_url", [base_url: "http://127.0.0.1:1/v1\r\nX-Evil: 1"], "q"}
      ] do
    test "#{what}", %{previous: previous, sup: sup} do
      config = Keyword.merge(@good, unquote(Macro.escape(config)))
      Application.put_env(:council_ex, :providers, Keyword.put(previous, :hostile, config))

      for {start, fun} <- starts(sup, unquote(input), []),
          start != :validate or unquote(input) == "q" do
        message =
          case fun.() do
            {:error, [%{message: message} | _]} when start == :validate -> message
            {:error, %Error{kind: :validation, message: message}} -> message
            other -> flunk("#{start} did not refuse it: #{inspect(other)}")
          end

        refute message =~ "X-Evil", "#{start} echoed the value: #{message}"
      end

      assert Process.alive?(self())
      refute_received {:EXIT, _, _}
    end
  end
end
