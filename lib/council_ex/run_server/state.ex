defmodule CouncilEx.RunServer.State do
  @moduledoc false
  # What a CouncilEx.RunServer holds while its run goes on.

  alias CouncilEx.{Error, MemberResult, Native, Result, RoundResult}
  alias CouncilEx.Options.Run

  @typedoc "What the server keeps about a step since its :round_started."
  @type step_info :: %{
          round: non_neg_integer(),
          iteration: non_neg_integer(),
          name: atom(),
          started: integer()
        }

  @typedoc "A task the run started for a call, a tool turn or a judgement."
  @type task_info :: %{required(:task) => Task.t(), optional(atom()) => term()}

  @type t :: %__MODULE__{
          run_id: String.t(),
          council: module() | String.t(),
          input: term(),
          user_opts: keyword(),
          run: reference() | nil,
          tag: reference(),
          topics: [String.t()],
          pubsub: {module(), term()},
          seats: tuple(),
          rounds: tuple(),
          n_members: pos_integer(),
          retention_ms: non_neg_integer(),
          status: :pending | :running | :completed | :failed | :cancelled,
          current_round: %{name: atom(), idx: Native.step()} | nil,
          rounds_completed: non_neg_integer(),
          started_at: DateTime.t(),
          started_mono: integer(),
          steps: %{Native.step() => step_info()},
          answers: %{term() => MemberResult.t()},
          routed_out: %{Native.step() => [term()]},
          call_latency: %{Native.step() => [non_neg_integer()]},
          member_results: %{Native.step() => [{Native.index(), MemberResult.t()}]},
          round_results: [RoundResult.t()],
          external: %{reference() => task_info()},
          external_errors: %{{Native.step(), Native.index()} => Error.t() | map()},
          tool_turns: %{reference() => task_info()},
          judges: %{reference() => task_info()},
          linked: MapSet.t(pid()),
          owner: reference() | nil,
          abort: Error.t() | nil,
          verbose: pid() | nil,
          result: Result.t() | nil,
          waiters: [{GenServer.from(), boolean()}]
        }

  @enforce_keys [:run_id, :council, :tag, :seats, :rounds, :n_members]
  defstruct [
    :run_id,
    :council,
    :input,
    :run,
    :tag,
    :pubsub,
    :seats,
    :rounds,
    :n_members,
    :retention_ms,
    :started_at,
    :started_mono,
    :current_round,
    :abort,
    :result,
    :verbose,
    :owner,
    user_opts: [],
    topics: [],
    status: :pending,
    rounds_completed: 0,
    steps: %{},
    answers: %{},
    routed_out: %{},
    call_latency: %{},
    member_results: %{},
    round_results: [],
    external: %{},
    external_errors: %{},
    tool_turns: %{},
    judges: %{},
    linked: MapSet.new(),
    waiters: []
  ]

  @doc "The state of a run about to start from its start options and plan."
  @spec new(keyword(), CouncilEx.Plan.t(), reference(), [String.t()]) :: t()
  def new(opts, plan, tag, topics) do
    %__MODULE__{
      run_id: opts[:run_id],
      council: opts[:council],
      input: opts[:input],
      user_opts: opts[:user_opts],
      tag: tag,
      topics: topics,
      pubsub: CouncilEx.PubSub.adapter(),
      seats: List.to_tuple(plan.seats),
      rounds: List.to_tuple(plan.rounds),
      n_members: plan.spec.n_members,
      retention_ms: Run.setting(opts[:user_opts], :retention_ms),
      started_at: DateTime.utc_now(),
      started_mono: System.monotonic_time()
    }
  end

  @doc "The id of the seat at `seat`."
  @spec seat_id(t(), Native.seat()) :: term()
  def seat_id(state, seat), do: elem(state.seats, seat).id

  @doc "The name of the round a step runs."
  @spec step_name(t(), Native.step()) :: atom()
  def step_name(state, step), do: state.steps[step].name

  @doc "What the plan says about the round a step runs."
  @spec round_info(t(), Native.step()) :: CouncilEx.Plan.Rounds.info()
  def round_info(state, step), do: elem(state.rounds, state.steps[step].round)

  @doc "The members' ids, in seat order."
  @spec member_ids(t()) :: [term()]
  def member_ids(state),
    do: state.seats |> Tuple.to_list() |> Enum.take(state.n_members) |> Enum.map(& &1.id)
end
