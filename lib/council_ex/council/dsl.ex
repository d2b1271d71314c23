defmodule CouncilEx.Council.DSL do
  @moduledoc false
  # What `use CouncilEx` compiles. The member, round, chair, router and
  # default_profile macros (in CouncilEx, where their docs are) record their
  # arguments with the caller's file and line; __before_compile__ resolves
  # profiles, builds the %CouncilEx.Spec{} and checks it with
  # CouncilEx.Council.Rules. A problem is a CompileError at the line of the
  # member or round at fault, naming the council, the member or round and
  # the option.

  alias CouncilEx.{Profile, Rounds, Spec}
  alias CouncilEx.Council.Rules

  @doc false
  defmacro __using__(_opts) do
    quote do
      import Kernel, except: [round: 1]

      import CouncilEx,
        only: [
          member: 2,
          member: 3,
          round: 1,
          round: 2,
          chair: 1,
          chair: 2,
          default_profile: 1,
          router: 1
        ]

      Module.register_attribute(__MODULE__, :council_members, accumulate: true)
      Module.register_attribute(__MODULE__, :council_rounds, accumulate: true)
      @council_chair nil
      @council_default_profile nil
      @council_router nil
      @before_compile CouncilEx.Council.DSL
    end
  end

  @doc "A `member` call: `{{id, module | nil, opts}, line}`; raises a CompileError when malformed."
  def seat(id, module_or_opts, opts, env),
    do: {ok!(member_seat(id, module_or_opts, opts), env), env.line}

  @doc "A `chair` call: `chair Module, opts`, `chair id, opts` or `chair opts` (id `:chair`)."
  def chair(module_or_opts, opts, env), do: {ok!(chair_seat(module_or_opts, opts), env), env.line}

  @doc "A `round` call: built-in names become their modules; other modules are checked with the council."
  def round(type, opts, env), do: {ok!(round_entry(type, opts), env), env.line}

  @doc "A member as the spec holds it: `{:ok, {id, module | nil, opts}}` or `{:error, message}`."
  @spec member_seat(term(), term(), term()) :: {:ok, Spec.member()} | {:error, String.t()}
  def member_seat(id, module_or_opts, opts) when is_atom(id) and id not in [nil, true, false] do
    cond do
      is_list(module_or_opts) and opts == [] ->
        {:ok, {id, nil, module_or_opts}}

      module?(module_or_opts) and is_list(opts) ->
        {:ok, {id, module_or_opts, opts}}

      true ->
        {:error,
         "member #{inspect(id)}: expected a module and/or options, got: #{inspect(module_or_opts)}"}
    end
  end

  def member_seat(id, _module_or_opts, _opts),
    do: {:error, "member id must be an atom, got: #{inspect(id)}"}

  @doc "The chair as the spec holds it: `{:ok, {id, module | nil, opts}}` or `{:error, message}`."
  @spec chair_seat(term(), term()) :: {:ok, Spec.member()} | {:error, String.t()}
  def chair_seat(opts, []) when is_list(opts),
    do: {:ok, {Keyword.get(opts, :id, :chair), nil, Keyword.delete(opts, :id)}}

  def chair_seat(module_or_id, opts) when is_atom(module_or_id) and is_list(opts) do
    if module?(module_or_id),
      do: {:ok, {Keyword.get(opts, :id, :chair), module_or_id, Keyword.delete(opts, :id)}},
      else: {:ok, {module_or_id, nil, opts}}
  end

  def chair_seat(other, _opts),
    do: {:error, "chair: expected a module, an id and/or options, got: #{inspect(other)}"}

  @doc "A round as the spec holds it: `{:ok, {module, opts}}` or `{:error, message}`."
  @spec round_entry(term(), term()) :: {:ok, {module(), term()}} | {:error, String.t()}
  def round_entry(type, opts) do
    case Rounds.module_for(type) do
      {:ok, module} ->
        {:ok, {module, opts}}

      :error ->
        if module?(type),
          do: {:ok, {type, opts}},
          else:
            {:error,
             "unknown round #{inspect(type)}; built-in rounds: #{inspect(Rounds.names())}, or a round module"}
    end
  end

  defp ok!({:ok, value}, _env), do: value
  defp ok!({:error, message}, env), do: fail!(env, message)

  defmacro __before_compile__(env) do
    get = &Module.get_attribute(env.module, &1)

    parts = %{
      members: Enum.reverse(get.(:council_members)),
      rounds: Enum.reverse(get.(:council_rounds)),
      chair: get.(:council_chair),
      default_profile: get.(:council_default_profile),
      router: get.(:council_router)
    }

    spec =
      case spec(env.module, parts) do
        {:ok, spec} ->
          spec

        {:error, [{_, line} | _] = problems} ->
          fail!(%{env | line: line || env.line}, Enum.map_join(problems, "\n  ", &elem(&1, 0)))
      end

    quote do
      @doc false
      def __council__, do: unquote(Macro.escape(spec))

      @doc false
      # The providers the council's seats use, sub-councils included.
      def __providers__, do: CouncilEx.Spec.providers(__council__())
    end
  end

  @doc """
  The spec of council `module` from its parts, each as the macros record
  it (`{value, line}`, the line nil when unknown): `members` and `rounds`
  lists, and `chair`, `default_profile` and `router` (or nil). Returns
  `{:ok, spec}`, or `{:error, [{message, line}]}` listing every problem
  (CouncilEx.Council.Rules) at the line of the member or round at fault.
  Shared with CouncilEx.Councils.Builder, which builds topologies' specs
  the same way.
  """
  @spec spec(module(), map()) :: {:ok, Spec.t()} | {:error, [{String.t(), pos_integer() | nil}]}
  def spec(module, parts) do
    profile = value(parts.default_profile)
    resolved = Enum.map(parts.members, &resolve(&1, profile))
    chair = parts.chair && resolve(parts.chair, profile)

    case for({:error, problem} <- [chair | resolved], do: problem) do
      [] ->
        spec = %Spec{
          council: module,
          members: Enum.map(resolved, &elem(&1, 1)),
          chair: chair && elem(chair, 1),
          rounds: Spec.complete_rounds(Enum.map(parts.rounds, &elem(&1, 0)), chair != nil),
          router: value(parts.router),
          opts: if(profile, do: [default_profile: profile], else: [])
        }

        case Rules.check(spec, :dsl) do
          [] -> {:ok, spec}
          errors -> {:error, Enum.map(errors, &{&1.message, line_of(&1.path, parts)})}
        end

      problems ->
        {:error, problems}
    end
  end

  defp value(nil), do: nil
  defp value({value, _line}), do: value

  # A seat's options with its profiles merged in (CouncilEx.Profile). A
  # sub-council seat takes no profile: its own council's members do the calls.
  defp resolve({{id, module, opts} = seat, line}, default_profile) do
    if Keyword.keyword?(opts) and not Keyword.has_key?(opts, :council) do
      case Profile.resolve_opts(opts, default_profile) do
        {:ok, resolved} ->
          {:ok, {id, module, resolved}}

        {:error, {profile, why}} ->
          {:error, {"member #{inspect(id)}: unknown profile #{inspect(profile)}: #{why}", line}}
      end
    else
      {:ok, seat}
    end
  end

  defp line_of(["members", i | _], parts), do: line(Enum.at(parts.members, i))
  defp line_of(["chair" | _], parts), do: line(parts.chair)
  defp line_of(["rounds", i | _], parts), do: line(Enum.at(parts.rounds, i))
  defp line_of(["router" | _], parts), do: line(parts.router)
  defp line_of(_path, _parts), do: nil

  defp line({_value, line}), do: line
  defp line(nil), do: nil

  defp fail!(env, message) do
    raise CompileError,
      file: env.file,
      line: env.line,
      description: "#{inspect(env.module)}: #{message}"
  end

  defp module?(atom), do: is_atom(atom) and String.starts_with?(Atom.to_string(atom), "Elixir.")
end
