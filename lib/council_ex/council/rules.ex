defmodule CouncilEx.Council.Rules do
  @moduledoc false
  # The rules a council must follow to run, written once over its compiled
  # form (%CouncilEx.Spec{}), whichever front end built it: the DSL checks
  # them when a council module compiles (context :dsl), CouncilEx.validate/2
  # and every start function before any process starts (context :spec), and
  # CouncilEx.DynamicCouncil.validate/1 after its own checks of names and
  # JSON shape. Option values go through the option schemas
  # (CouncilEx.Options.Seat, CouncilEx.Rounds); what is here are the rules
  # between options: ids, required seats, a chair's fallback, judges,
  # quorums. Nothing later re-checks them: CouncilEx.Plan lowers a council
  # that passed, and the C side checks only what memory safety needs.

  alias CouncilEx.{Error, Rounds, Spec}
  alias CouncilEx.Options.{Schema, Seat}

  @typedoc """
  A problem: where it is (`["members", 0, "temperature"]`,
  `["rounds", 1, "quorum"]`), a code, and a message that names the member
  or round and the option.
  """
  @type error :: %{path: [String.t() | non_neg_integer()], code: atom(), message: String.t()}

  @typedoc "`:dsl` while a council module compiles, `:spec` for a council about to run."
  @type context :: :dsl | :spec

  @doc """
  Every problem of a compiled council; `[]` when it can run. Any
  `%CouncilEx.Spec{}` is taken, also one built by hand that breaks the
  struct's type: that is a problem to report, not a crash.
  """
  @spec check(%Spec{}, context()) :: [error()]
  def check(%Spec{} = spec, context) do
    case shape(spec) do
      [] -> spec |> checks(context) |> List.flatten()
      errors -> errors
    end
  end

  # A spec built by hand may not even have the shape the checks read.
  defp shape(%Spec{council: council, members: members, chair: chair, rounds: rounds}) do
    seat? = &match?({id, _, _} when is_atom(id) or is_binary(id), &1)

    cond do
      not ((is_atom(council) and council not in [nil, true, false]) or
               (is_binary(council) and String.starts_with?(council, "dynamic:"))) ->
        [
          error(
            ["council"],
            :invalid_type,
            ~s(expected the council to be a module or "dynamic:" <> id, got: #{Schema.show(council)})
          )
        ]

      not (is_list(members) and Enum.all?(members, seat?)) ->
        [
          error(
            ["members"],
            :invalid_type,
            "expected members as a list of {id, module | nil, opts}"
          )
        ]

      not (chair == nil or seat?.(chair)) ->
        [error(["chair"], :invalid_type, "expected the chair as nil or {id, module | nil, opts}")]

      not (is_list(rounds) and Enum.all?(rounds, &match?({m, _} when is_atom(m), &1))) ->
        [error(["rounds"], :invalid_type, "expected rounds as a list of {module, opts}")]

      true ->
        []
    end
  end

  defp checks(spec, context) do
    [
      members(spec),
      duplicate_ids(spec),
      for(
        {seat, i} <- Enum.with_index(spec.members),
        do: seat(seat, :member, spec, context, ["members", i])
      ),
      chair(spec, context),
      rounds(spec, context),
      router(spec, context)
    ]
  end

  @doc "Errors as one line: `members.0.temperature: ...; rounds.1: ...`."
  @spec format([error()]) :: String.t()
  def format(errors) do
    Enum.map_join(errors, "; ", fn
      %{path: [], message: message} -> message
      %{path: path, message: message} -> Enum.join(path, ".") <> ": " <> message
    end)
  end

  @doc """
  The `%CouncilEx.Error{kind: :validation}` a start function returns for
  `errors`: `reason` says what was rejected (`:invalid_council`,
  `:invalid_option`, `:invalid_input`, or the code of a problem with the
  environment, such as `:unknown_provider`), the message lists every
  problem, `context.errors` holds them, and `member_id` is set when they
  all concern one member.
  """
  @spec to_error([error(), ...], atom() | nil) :: Error.t()
  def to_error([first | _] = errors, reason \\ nil) do
    %Error{
      kind: :validation,
      reason: reason || first.code,
      message: format(errors),
      member_id: member_id(errors),
      context: %{errors: errors}
    }
  end

  defp member_id(errors) do
    case errors |> Enum.map(&Map.get(&1, :member_id)) |> Enum.uniq() do
      [id] -> id
      _ -> nil
    end
  end

  @doc "A seat's label in messages: `member :a`, `chair :chair`."
  @spec label(:member | :chair | :judge, term()) :: String.t()
  def label(:judge, id), do: "judge #{inspect(id)}"
  def label(role, id), do: "#{role} #{inspect(id)}"

  @doc "One problem, with a `member_id` when it concerns one seat."
  @spec error([String.t() | non_neg_integer()], atom(), String.t(), term()) :: error()
  def error(path, code, message, member_id \\ nil) do
    error = %{path: path, code: code, message: message}
    if member_id == nil, do: error, else: Map.put(error, :member_id, member_id)
  end

  ## Seats

  defp members(%Spec{members: []}),
    do: error(["members"], :no_members, "a council needs at least one member")

  defp members(%Spec{}), do: []

  # Each seat whose id an earlier seat has already.
  defp duplicate_ids(%Spec{} = spec) do
    seats =
      Enum.with_index(spec.members, fn {id, _, _}, i -> {id, ["members", i, "id"]} end) ++
        if(spec.chair, do: [{elem(spec.chair, 0), ["chair", "id"]}], else: [])

    {errors, _seen} =
      Enum.flat_map_reduce(seats, MapSet.new(), fn {id, path}, seen ->
        if MapSet.member?(seen, id),
          do:
            {[error(path, :duplicate_id, "member id #{inspect(id)} is used more than once")],
             seen},
          else: {[], MapSet.put(seen, id)}
      end)

    errors
  end

  defp chair(%Spec{chair: nil}, _context), do: []

  defp chair(%Spec{chair: {id, _, opts} = chair} = spec, context) do
    [seat(chair, :chair, spec, context, ["chair"]), fallback(id, opts, spec)]
  end

  defp seat({id, module, opts}, role, spec, context, path) do
    label = label(role, id)

    cond do
      not (is_list(opts) and Keyword.keyword?(opts)) ->
        error(
          path,
          :invalid_type,
          "#{label}: expected options as a keyword list, got: #{Schema.show(opts)}",
          id
        )

      Keyword.has_key?(opts, :council) ->
        sub_council(id, module, opts, role, spec, context, path)

      true ->
        [
          option_errors(opts, role, context, path, label, id),
          required(opts, :provider, :missing_provider, path, label, id),
          required(opts, :model, :missing_model, path, label, id),
          member_module(module, context, path, label, id)
        ]
    end
  end

  defp option_errors(opts, role, context, path, label, id) do
    for {key, code, message} <- Seat.errors(opts, role, context) do
      error(path ++ [to_string(key)], code, "#{label}: #{message}", id)
    end
  end

  defp required(opts, key, code, path, label, id) do
    if opts[key] in [nil, ""],
      do: error(path ++ [to_string(key)], code, "#{label} has no #{inspect(key)}", id),
      else: []
  end

  defp member_module(nil, _context, _path, _label, _id), do: []
  defp member_module(%{}, _context, _path, _label, _id), do: []

  defp member_module(module, context, path, label, id) do
    loaded? =
      (context != :dsl or match?({:module, _}, Code.ensure_compiled(module))) and
        Code.ensure_loaded?(module)

    if loaded?,
      do: [],
      else: error(path, :invalid_type, "#{label}: #{Schema.show(module)} is not a module", id)
  end

  defp sub_council(id, module, opts, role, spec, context, path) do
    label = label(role, id)

    cond do
      role != :member ->
        error(path, :invalid_type, "#{label}: the #{role} cannot be a sub-council", id)

      module != nil and not is_struct(module) ->
        error(
          path,
          :invalid_type,
          "#{label}: a sub-council member takes no Member module (#{inspect(module)})",
          id
        )

      opts[:council] == spec.council ->
        error(path ++ ["council"], :invalid_option, "#{label}: a council cannot seat itself", id)

      true ->
        option_errors(opts, :sub_council, context, path, label, id)
    end
  end

  # The chair's fallback seats must be members that call a model.
  defp fallback(chair_id, opts, spec) when is_list(opts) do
    members = for {id, _, member_opts} <- spec.members, into: %{}, do: {id, member_opts}

    case opts[:fallback] do
      ids when is_list(ids) ->
        for {id, i} <- Enum.with_index(ids),
            message = fallback_error(Map.fetch(members, id), id) do
          error(
            ["chair", "fallback", i],
            :unknown_member,
            "chair #{inspect(chair_id)}: #{message}",
            chair_id
          )
        end

      _ ->
        []
    end
  end

  defp fallback(_chair_id, _opts, _spec), do: []

  defp fallback_error(:error, id), do: "fallback #{inspect(id)} is not a member"

  defp fallback_error({:ok, opts}, id) do
    if is_list(opts) and Keyword.has_key?(opts, :council),
      do: "fallback #{inspect(id)} is a sub-council; fallback seats must call a model"
  end

  ## Rounds

  defp rounds(%Spec{rounds: rounds} = spec, context) do
    judges = Map.new(Rounds.judge_seats(spec))

    for {{module, opts}, i} <- Enum.with_index(rounds) do
      label = round_label(module)

      case round_module(module, context) do
        :ok ->
          [
            for({path, code, message} <- Rounds.problems(module, opts, context)) do
              where =
                if length(path) > 1, do: " (in #{Enum.map_join(path, ".", &inspect/1)})", else: ""

              error(
                ["rounds", i | Enum.map(path, &to_string/1)],
                code,
                "#{label}: #{message}#{where}"
              )
            end,
            round_rules(module, opts, i, label, spec),
            judge_seat(judges[i], i, spec, context)
          ]

        {:error, message} ->
          error(["rounds", i], :unknown_round, "#{label}: #{message}")
      end
    end
  end

  defp round_label(module) do
    case Rounds.name_of(module) do
      {:ok, name} -> "round #{inspect(name)}"
      :error -> "round #{inspect(module)}"
    end
  end

  defp round_module(module, context) do
    cond do
      Rounds.name_of(module) != :error ->
        :ok

      Rounds.custom_round?(module, context) ->
        :ok

      true ->
        {:error,
         "#{Schema.show(module)} is not a round module (name/0 and build_input/3; see CouncilEx.Round)"}
    end
  end

  # Rules between a round and the rest of the council. Options were
  # checked by Rounds.problems/3: only well-formed ones are read here.
  defp round_rules(module, opts, i, label, spec) do
    opts = if Keyword.keyword?(opts), do: opts, else: []
    {inner, inner_opts} = safe_unwrap(module, opts)

    [
      if(Rounds.chair_round?(inner) and spec.chair == nil,
        do: error(["rounds", i], :missing_chair, "#{label} is written by the chair; add a chair"),
        else: []
      ),
      if(Rounds.chair_round?(inner) and i == 0,
        do:
          error(
            ["rounds", i],
            :invalid_round,
            "#{label} is written from earlier rounds; add a round before it"
          ),
        else: []
      ),
      if(inner == Rounds.PairwiseElimination and inner_opts[:judge] == nil and spec.chair == nil,
        do:
          error(
            ["rounds", i],
            :missing_judge,
            "#{label}: pairwise_elimination needs a :judge or a council chair"
          ),
        else: []
      ),
      quorum(inner_opts[:quorum] || opts[:quorum], i, label, spec)
    ]
  end

  defp safe_unwrap(Rounds.Iterate, opts) do
    if Keyword.keyword?(opts[:wrap_opts] || []),
      do: Rounds.unwrap(Rounds.Iterate, opts),
      else: {nil, []}
  end

  defp safe_unwrap(module, opts), do: {module, opts}

  defp quorum(n, i, label, %Spec{members: members}) when is_integer(n) and is_list(members) do
    if n > length(members),
      do:
        error(
          ["rounds", i, "quorum"],
          :invalid_option,
          "#{label}: quorum #{n} is more than the council's #{length(members)} members"
        ),
      else: []
  end

  defp quorum(_n, _i, _label, _spec), do: []

  # A pairwise round's own judge is a seat like any other.
  defp judge_seat(nil, _i, _spec, _context), do: []

  defp judge_seat({module, opts}, i, spec, context) do
    id = Keyword.get(opts, :id, :judge)
    seat({id, module, Keyword.delete(opts, :id)}, :judge, spec, context, ["rounds", i, "judge"])
  end

  ## Router

  defp router(%Spec{router: nil}, _context), do: []

  defp router(%Spec{router: router}, context) do
    for {_key, code, message} <-
          Schema.check(Rounds.__schema__()[:router][:type], :router, router, {context, []}) do
      error(["router"], code, "router: " <> String.replace_prefix(message, "router: ", ""))
    end
  end
end
