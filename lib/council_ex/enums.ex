defmodule CouncilEx.Enums do
  @moduledoc false
  # The enumerations the C core and the Elixir layer share, read at compile
  # time from c_src/enums.def, the one table the C build includes as
  # X-macros. Round kinds, label orders, tie-breaks, aggregators,
  # confidence modes, error kinds, stop words, failure reasons and the
  # limits both sides hold values to are defined there and nowhere else; CouncilEx.Native.enums/0 returns the
  # tables the loaded library was built with, and a test holds the two
  # against each other.

  @def Path.expand("../../c_src/enums.def", __DIR__)
  @external_resource @def

  # One entry per line: MACRO(arg, arg, ...) with plain identifiers, flags
  # joined by `|` and at most one "message" (see the file's header).
  entries =
    for line <- File.stream!(@def),
        [_, macro, args] <- [Regex.run(~r/^(CX_[A-Z_]+)\((.*)\)\s*$/, line)] do
      args =
        case Regex.run(~r/^(\w+),\s*"([^"]*)"$/, args) do
          [_, name, message] -> [name, message]
          nil -> args |> String.split(",") |> Enum.map(&String.trim/1)
        end

      {macro, args}
    end

  names = fn macro ->
    for {^macro, [_enum, name | _]} <- entries, do: String.to_atom(name)
  end

  @round_kinds (for {"CX_ROUND_KIND", [_enum, name, flags, aggregator]} <- entries do
                  flags =
                    flags
                    |> String.split("|")
                    |> Enum.map(&(&1 |> String.trim() |> String.replace_prefix("RL_KF_", "")))

                  %{
                    name: String.to_atom(name),
                    answers?: "ANSWERS" in flags,
                    judges?: "JUDGES" in flags,
                    members?: "MEMBERS" in flags,
                    chair?: "CHAIR" in flags,
                    default_aggregator: String.to_atom(aggregator)
                  }
                end)

  @orders names.("CX_ORDER")
  @ties names.("CX_TIE")
  @aggregators for {"CX_AGGREGATOR", [_enum, name, ballot]} <- entries,
                   do: {String.to_atom(name), String.to_atom(ballot)}
  @confidences names.("CX_CONFIDENCE")
  @error_kinds names.("CX_ERROR_KIND")
  @stops names.("CX_STOP")
  @reasons for {"CX_REASON", [name, message]} <- entries, do: {String.to_atom(name), message}
  @limits for {"CX_LIMIT", [_enum, name, value]} <- entries,
              into: %{},
              do: {String.to_atom(name), String.to_integer(value)}

  if @round_kinds == [] or @reasons == [], do: raise("c_src/enums.def: no entries read")

  @typedoc "A round kind the C round loop runs, with what it means for a run."
  @type round_kind :: %{
          name: atom(),
          answers?: boolean(),
          judges?: boolean(),
          members?: boolean(),
          chair?: boolean(),
          default_aggregator: atom()
        }

  @doc "The round kinds, in C enum order."
  @spec round_kinds() :: [round_kind()]
  def round_kinds, do: @round_kinds

  @doc "A round kind by name; raises for an unknown one."
  @spec round_kind!(atom()) :: round_kind()
  for %{name: name} = kind <- @round_kinds do
    def round_kind!(unquote(name)), do: unquote(Macro.escape(kind))
  end

  @doc "How anonymous labels may be dealt to judges (`:order`)."
  @spec orders() :: [atom()]
  def orders, do: @orders

  @doc "The tie-breaks the C aggregator applies; `:caller` stands for a function."
  @spec ties() :: [atom()]
  def ties, do: @ties

  @doc "The built-in aggregators with the ballot each counts (`:vote` or `:ordering`), `:none` first."
  @spec aggregators() :: [{atom(), :none | :vote | :ordering}]
  def aggregators, do: @aggregators

  @doc "The aggregator names a round may ask for (without `:none`)."
  @spec aggregator_names() :: [atom()]
  def aggregator_names, do: for({name, ballot} <- @aggregators, ballot != :none, do: name)

  @doc "The confidence modes; `:none` is the default, not an option value."
  @spec confidences() :: [atom()]
  def confidences, do: @confidences

  @doc "How the C core classifies a failure (`:ok` is no failure)."
  @spec error_kinds() :: [atom()]
  def error_kinds, do: @error_kinds

  @doc "The normalized stop words of a response."
  @spec stops() :: [atom()]
  def stops, do: @stops

  @doc "The failure reasons the C core reports, with what each means."
  @spec reasons() :: [{atom(), String.t()}]
  def reasons, do: @reasons

  @doc "What a reason the C core reports means, or nil for another reason."
  @spec reason_message(atom()) :: String.t() | nil
  for {name, message} <- @reasons do
    def reason_message(unquote(name)), do: unquote(message)
  end

  def reason_message(_other), do: nil

  @doc "A limit the C core enforces (`:max_tool_calls`: the most tool calls one reply may hold)."
  @spec limit(atom()) :: pos_integer()
  def limit(name), do: Map.fetch!(@limits, name)

  @doc "The tables as `CouncilEx.Native.enums/0` returns them, for comparison."
  @spec tables() :: map()
  def tables do
    %{
      round_kinds: Enum.map(@round_kinds, & &1.name),
      orders: @orders,
      ties: @ties,
      aggregators: Enum.map(@aggregators, &elem(&1, 0)),
      confidences: @confidences,
      error_kinds: @error_kinds,
      stops: @stops,
      reasons: Enum.map(@reasons, &elem(&1, 0)),
      limits: @limits
    }
  end
end
