defmodule CouncilEx.Router do
  @moduledoc """
  Picks the members that take part in a round.

  A router is consulted before each round with the run's input and its
  `CouncilEx.Context` (the rounds so far, the round about to run in
  `round_name`/`round_idx`), and answers the ids of the members that should
  answer. The others sit the round out: they appear in the round's result
  with `status: :skipped` and `metadata: %{reason: :router_excluded}`.

      defmodule MyApp.Routing.LegalFirst do
        @behaviour CouncilEx.Router

        @impl true
        def select(%{question: q}, _ctx) do
          if q =~ ~r/contract|liability/i, do: [:lawyer, :analyst], else: [:analyst, :generalist]
        end
      end

      defmodule MyCouncil do
        use CouncilEx
        router MyApp.Routing.LegalFirst
        member :lawyer, provider: :openai, model: "gpt-4o"
        # ...
        round :critique, router: &MyApp.Routing.all/2
      end

  A council's router is set with `router ModuleOrCapture` (a module
  implementing this behaviour, or a remote capture of a 2-arity function);
  a round's `router:` option overrides it for that round. A
  `CouncilEx.DynamicCouncil` names a module registered as a `:router` in
  `CouncilEx.Registry` (`set_router/2`, and the round option `"router"`).
  """

  alias CouncilEx.{Context, Error}

  @typedoc "A router: a module implementing this behaviour, or a 2-arity function."
  @type t :: module() | (term(), Context.t() -> [member_id()])

  @typedoc "A member id: an atom in module councils, a string in dynamic ones."
  @type member_id :: atom() | String.t()

  @doc "The ids of the members that take part in the coming round."
  @callback select(input :: term(), Context.t()) :: [member_id()]

  @doc """
  Asks `router` which members take part and checks the answer.

  `router` is a module implementing this behaviour or a 2-arity function.
  The answer must be a list of member ids, each one known: the ids come
  from `known_ids` when given, else from `ctx.metadata[:member_ids]`, else
  from the council's spec when `ctx.council` is a council module (with no
  way to know them, any atom or string id passes). Duplicates are dropped,
  the router's order is kept.

  Returns `{:ok, ids}`, or `{:error, %CouncilEx.Error{kind: :validation}}`
  with `reason`:

    * `:unknown_members` - ids that are not members (`context.unknown`)
    * `:invalid_router_result` - the answer is not a list of ids
    * `:router_failed` - the router raised, threw or exited
    * `:invalid_router` - `router` is neither a module exporting
      `select/2` nor a 2-arity function

  ## Examples

      iex> ctx = %CouncilEx.Context{input: "q", metadata: %{member_ids: [:a, :b]}}
      iex> CouncilEx.Router.select(fn _input, _ctx -> [:b, :b] end, "q", ctx)
      {:ok, [:b]}
      iex> {:error, error} = CouncilEx.Router.select(fn _, _ -> [:c] end, "q", ctx)
      iex> {error.reason, error.context}
      {:unknown_members, %{unknown: [:c]}}
  """
  @spec select(t(), term(), Context.t(), [member_id()] | nil) ::
          {:ok, [member_id()]} | {:error, Error.t()}
  def select(router, input, %Context{} = ctx, known_ids \\ nil) do
    with {:ok, answer} <- call(router, input, ctx),
         {:ok, ids} <- ids(answer) do
      check_known(ids, known_ids || known_ids(ctx))
    end
  end

  defp call(router, input, ctx) do
    cond do
      is_function(router, 2) ->
        safely(fn -> router.(input, ctx) end)

      is_atom(router) and router not in [nil, true, false] and Code.ensure_loaded?(router) and
          function_exported?(router, :select, 2) ->
        safely(fn -> router.select(input, ctx) end)

      true ->
        error(
          :invalid_router,
          "expected a CouncilEx.Router module or a 2-arity function, got: #{inspect(router)}"
        )
    end
  end

  defp safely(fun) do
    {:ok, fun.()}
  rescue
    exception -> error(:router_failed, "the router raised: " <> Exception.message(exception))
  catch
    kind, value ->
      error(:router_failed, "the router failed: #{inspect(kind)} #{inspect(value, limit: 10)}")
  end

  defp ids(answer) when is_list(answer) do
    if Enum.all?(answer, &id?/1),
      do: {:ok, Enum.uniq(answer)},
      else: invalid_result(answer)
  end

  defp ids(answer), do: invalid_result(answer)

  defp invalid_result(answer),
    do:
      error(
        :invalid_router_result,
        "expected the router to return a list of member ids, got: #{inspect(answer, limit: 10)}"
      )

  defp id?(id), do: (is_atom(id) and id not in [nil, true, false]) or (is_binary(id) and id != "")

  defp check_known(ids, nil), do: {:ok, ids}

  defp check_known(ids, known) do
    case Enum.reject(ids, &(&1 in known)) do
      [] ->
        {:ok, ids}

      unknown ->
        {:error,
         %Error{
           kind: :validation,
           reason: :unknown_members,
           message:
             "the router selected #{inspect(unknown)}, which are not members; members: #{inspect(known)}",
           context: %{unknown: unknown}
         }}
    end
  end

  defp known_ids(%Context{metadata: %{member_ids: ids}}) when is_list(ids), do: ids

  defp known_ids(%Context{council: council}) when is_atom(council) and council != nil do
    if Code.ensure_loaded?(council) and function_exported?(council, :__council__, 0),
      do: Enum.map(council.__council__().members, &elem(&1, 0)),
      else: nil
  end

  defp known_ids(_ctx), do: nil

  defp error(reason, message),
    do: {:error, %Error{kind: :validation, reason: reason, message: message}}
end
