defmodule CouncilEx.Plan do
  @moduledoc false
  # Lowers a council that passed CouncilEx.Council.Rules (a %CouncilEx.Spec{}),
  # its input and run options into the plan: the map the C round loop runs
  # (see the key contract at the top of c_src/nif/spec_nif.c) and what the
  # run's process keeps about each seat and round. Lowering re-checks none
  # of the rules; what it checks is what only the running node knows:
  # providers configured, API keys set, adapters loaded, output schemas that
  # compile, the run-wide defaults in the app config, and the input.
  # prepare/3 reports every such problem at once; check/2 does the same
  # without an input, for CouncilEx.validate/2.
  #
  # API keys travel as {:api_key, provider, member_id} placeholders, so a
  # plan can go between processes and be inspected; start/2 puts the keys
  # in at the last moment, into the map handed straight to the NIF (never
  # stored, logged or returned).

  import Bitwise

  alias CouncilEx.{Error, Native, Provider, Rounds, Spec}
  alias CouncilEx.Council.Rules
  alias CouncilEx.Options.Run
  alias CouncilEx.Plan.{Input, Seats}

  @typedoc "The map the C round loop runs, its API keys as placeholders."
  @type c_spec :: %{
          input: binary(),
          seats: [Seats.c_seat()],
          n_members: pos_integer(),
          has_chair: boolean(),
          chair_fallback: [non_neg_integer()],
          rounds: [CouncilEx.Plan.Rounds.c_round()],
          max_response_bytes: pos_integer(),
          seed: non_neg_integer(),
          debug: boolean()
        }

  @typedoc """
  A run, lowered and checked, ready to start: the C spec without its API
  keys, and what the run's process keeps about each seat and round. Safe
  to pass between processes and to inspect.
  """
  @type t :: %{spec: c_spec(), seats: [Seats.info()], rounds: [CouncilEx.Plan.Rounds.info()]}

  @doc """
  Lowers a run before any process starts: `{:ok, plan}`, or
  `{:error, %CouncilEx.Error{kind: :validation}}` listing every problem
  (see `CouncilEx.Council.Rules.to_error/2`).
  """
  @spec prepare(Spec.t(), term(), keyword()) :: {:ok, t()} | {:error, Error.t()}
  def prepare(%Spec{} = spec, input, opts) do
    case lower(spec, {:ok, input}, opts) do
      {:ok, plan} -> {:ok, plan}
      {:error, errors} -> {:error, Rules.to_error(errors)}
    end
  end

  @doc "The problems `prepare/3` would report, without an input."
  @spec check(Spec.t(), keyword()) :: [Rules.error()]
  def check(%Spec{} = spec, opts) do
    case lower(spec, :no_input, opts) do
      {:ok, _plan} -> []
      {:error, errors} -> errors
    end
  end

  defp lower(spec, input, opts) do
    config = Run.config_errors()

    with [] <- config,
         {text, input_errors} = render(input),
         {seats, seat_errors} = Seats.lower(spec, opts),
         [] <- input_errors ++ seat_errors do
      {c_rounds, rounds} = CouncilEx.Plan.Rounds.lower(spec, judge_seats(spec))

      c_spec = %{
        input: text,
        seats: Enum.map(seats, &elem(&1, 0)),
        n_members: length(spec.members),
        has_chair: spec.chair != nil,
        chair_fallback: chair_fallback(spec),
        rounds: c_rounds,
        max_response_bytes: Run.setting(opts, :max_response_bytes),
        seed: :rand.uniform(1 <<< 62),
        # verbose: :debug prints each request as it is sent.
        debug: opts[:verbose] == :debug
      }

      {:ok, %{spec: c_spec, seats: Enum.map(seats, &elem(&1, 1)), rounds: rounds}}
    else
      errors -> {:error, errors}
    end
  end

  defp render(:no_input), do: {"", []}

  defp render({:ok, input}) do
    case Input.render(input) do
      {:ok, text} -> {text, []}
      {:error, why} -> {nil, [Rules.error(["input"], :invalid_input, why)]}
    end
  end

  # Pairwise rounds with their own judge seat sit after the members and the
  # chair: round index => seat index.
  defp judge_seats(spec) do
    first = length(spec.members) + if(spec.chair, do: 1, else: 0)

    spec
    |> Rounds.judge_seats()
    |> Enum.with_index(first)
    |> Map.new(fn {{round, _judge}, seat} -> {round, seat} end)
  end

  # The member seats that take over a failed chair, in order: `fallback:
  # [ids]` or `fallback: :members` (the members that call a model).
  defp chair_fallback(%Spec{chair: nil}), do: []

  defp chair_fallback(%Spec{chair: {_, _, chair_opts}, members: members}) do
    indexed = Enum.with_index(members)

    case chair_opts[:fallback] do
      :members -> for {{_, _, opts}, i} <- indexed, not Keyword.has_key?(opts, :council), do: i
      ids when is_list(ids) -> for id <- ids, {{^id, _, _}, i} <- indexed, do: i
      nil -> []
    end
  end

  @doc """
  Starts the C run of a plan, owned by the calling process; events arrive
  tagged with `tag`. Returns the run, or an error when the engine refuses
  it (overloaded, or a key that no longer resolves).
  """
  @spec start(t(), reference()) :: {:ok, reference()} | {:error, Error.t()}
  def start(%{spec: c_spec}, tag) do
    with {:ok, c_spec} <- Seats.put_keys(c_spec) do
      call_nif(c_spec, tag)
    end
  end

  # A badarg from the NIF would carry the spec (and its keys) in the
  # stacktrace: never let it escape.
  defp call_nif(c_spec, tag) do
    case Native.run_start(c_spec, tag) do
      {:ok, run} ->
        {:ok, run}

      {:error, {:invalid_spec, why}} ->
        {:error,
         %Error{
           kind: :validation,
           reason: :invalid_spec,
           message: "the engine rejected the run: #{why}"
         }}

      {:error, reason} ->
        {:error, %Error{kind: :transient, reason: reason, message: "the engine refused the run"}}
    end
  rescue
    _ ->
      {:error,
       %Error{
         kind: :validation,
         reason: :invalid_spec,
         message: "the engine rejected the run spec"
       }}
  end

  @doc "The BEAM dispatcher answering a provider's calls, or nil for HTTP providers."
  @spec dispatcher(atom()) :: module() | nil
  def dispatcher(provider) do
    case Provider.resolve(provider) do
      {:ok, {module, provider_opts}} -> if provider_opts[:dispatcher], do: module
      _ -> nil
    end
  end
end
