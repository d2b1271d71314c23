defmodule CouncilEx.Options.Seat do
  @moduledoc false
  # The capability options, as data: what a profile may set and what a
  # dynamic member may override. One table drives the profile macros, the
  # checks on dynamic members, their JSON form and the generated docs.
  #
  # Values arrive either as Elixir terms or from JSON. normalize/2 turns the
  # JSON forms into the Elixir ones (["collect"] strings into the known
  # atoms, [max, base_ms] lists into tuples) without ever creating an atom;
  # check/2 then accepts or rejects the Elixir form; to_json/2 goes back.

  alias CouncilEx.Dynamic.Ref

  @profile [
    provider: {:provider, "a provider id configured under config :council_ex, :providers"},
    model: {:string, "the model name"},
    temperature: {:number, "sampling temperature"},
    max_tokens: {:pos_integer, "the most tokens a reply may have"},
    stream: {:boolean, "stream tokens as they arrive"},
    retry: {:retry, "`{max_attempts, base_ms}` for retrying failed calls"},
    tools: {:tools, "tool modules or registered tool names"},
    parallel_tools: {:boolean, "run a reply's tool calls in parallel"},
    parallel_tools_strategy: {{:enum, [:collect, :fail_fast]}, "`:collect` or `:fail_fast`"},
    tool_concurrency_factor: {:pos_number, "how many tool calls run at once, per scheduler"},
    tool_timeout_ms: {:pos_integer, "time a tool call may take"},
    tool_choice: {:tool_choice, "`nil`, `:auto`, `:required`, `:none` or a tool name"}
  ]

  @seat [
    timeout_ms: {:pos_integer, "total time a member call may take"},
    connect_timeout_ms: {:pos_integer, "connect timeout per call"},
    weight: {:non_neg_number, "the member's weight in a weighted synthesis (default 1.0)"},
    confidence:
      {{:enum, [:self_report, :logprob]},
       "how the member's confidence is read: `:self_report` or `:logprob`"},
    fallback:
      {:fallback,
       "chair only: the members (ids) whose seats retry the synthesis, in order, when the chair's call fails, or `:members` for all of them"}
  ]

  @doc "The options that belong to a seat, never to a profile."
  def seat_keys, do: Keyword.keys(@seat)

  @all @profile ++ @seat

  @doc "The options a profile may set, in order."
  def profile_keys, do: Keyword.keys(@profile)

  @doc "The options a dynamic member may override: the profile options plus the seat timeouts."
  def override_keys, do: Keyword.keys(@all)

  @doc "A markdown list of `keys`, for docs, each line indented by `indent` spaces."
  def docs(keys, indent \\ 2) do
    pad = String.duplicate(" ", indent)
    Enum.map_join(keys, "\n", fn key -> "#{pad}* `#{inspect(key)}` - #{elem(@all[key], 1)}" end)
  end

  @doc "The option named by a JSON key, if it is one (never creates an atom)."
  @spec key(String.t() | atom(), [atom()]) :: {:ok, atom()} | :error
  def key(name, keys) when is_atom(name), do: if(name in keys, do: {:ok, name}, else: :error)

  def key(name, keys) when is_binary(name) do
    case Enum.find(keys, &(Atom.to_string(&1) == name)) do
      nil -> :error
      key -> {:ok, key}
    end
  end

  def key(_name, _keys), do: :error

  @doc "Turns the JSON form of a value into its Elixir form; anything else is returned as is."
  def normalize(key, value), do: do_normalize(type(key), value)

  defp do_normalize(:provider, name) when is_binary(name) do
    # A provider id is a config key, so it is an atom that exists already
    # when it is configured; an unknown name stays a string and fails checks.
    String.to_existing_atom(name)
  rescue
    ArgumentError -> name
  end

  defp do_normalize(:retry, [max, base]), do: {max, base}
  defp do_normalize(:fallback, "members"), do: :members
  defp do_normalize(:tools, refs) when is_list(refs), do: Enum.map(refs, &Ref.module_or_name/1)
  defp do_normalize({:enum, atoms}, name) when is_binary(name), do: string_to_known(name, atoms)

  defp do_normalize(:tool_choice, name) when is_binary(name),
    do: string_to_known(name, [:auto, :required, :none])

  defp do_normalize(_type, value), do: value

  defp string_to_known(name, atoms), do: Enum.find(atoms, name, &(Atom.to_string(&1) == name))

  @doc "`:ok`, or `{:error, expectation}` saying what the value should have been."
  @spec check(atom(), term()) :: :ok | {:error, String.t()}
  def check(key, value) do
    if valid?(type(key), value), do: :ok, else: {:error, expectation(type(key))}
  end

  defp valid?(:provider, p),
    do: (is_atom(p) and p not in [nil, true, false]) or (is_binary(p) and p != "")

  defp valid?(:string, s), do: is_binary(s) and s != ""
  defp valid?(:number, n), do: is_number(n)
  defp valid?(:pos_integer, n), do: is_integer(n) and n > 0
  defp valid?(:pos_number, n), do: is_number(n) and n > 0
  defp valid?(:non_neg_number, n), do: is_number(n) and n >= 0
  defp valid?(:fallback, :members), do: true

  defp valid?(:fallback, ids) when is_list(ids),
    do:
      Enum.all?(
        ids,
        &((is_atom(&1) and &1 not in [nil, true, false]) or (is_binary(&1) and &1 != ""))
      )

  defp valid?(:fallback, _), do: false
  defp valid?(:boolean, b), do: is_boolean(b)

  defp valid?(:retry, {max, base}),
    do: is_integer(max) and max > 0 and is_integer(base) and base >= 0

  defp valid?(:retry, _), do: false
  defp valid?(:tools, refs), do: is_list(refs) and Enum.all?(refs, &Ref.ref?/1)
  defp valid?({:enum, atoms}, v), do: v in atoms

  defp valid?(:tool_choice, v),
    do: v in [nil, :auto, :required, :none] or (is_binary(v) and v != "")

  defp expectation(:provider), do: "a provider id (an atom, or its name as a string)"
  defp expectation(:string), do: "a non-empty string"
  defp expectation(:number), do: "a number"
  defp expectation(:pos_integer), do: "a positive integer"
  defp expectation(:pos_number), do: "a positive number"
  defp expectation(:non_neg_number), do: "a non-negative number"
  defp expectation(:fallback), do: "a list of member ids or :members"
  defp expectation(:boolean), do: "a boolean"
  defp expectation(:retry), do: "{max_attempts, base_ms} with max_attempts > 0 and base_ms >= 0"
  defp expectation(:tools), do: "a list of tool modules or non-empty tool names"
  defp expectation({:enum, atoms}), do: "one of #{inspect(atoms)}"
  defp expectation(:tool_choice), do: "nil, :auto, :required, :none or a tool name"

  @doc "The JSON form of a checked value."
  def to_json(key, value), do: do_to_json(type(key), value)

  defp do_to_json(:retry, {max, base}), do: [max, base]
  defp do_to_json(:tools, refs), do: Enum.map(refs, &Ref.to_json/1)

  defp do_to_json(_type, value) when is_atom(value) and value not in [nil, true, false],
    do: Atom.to_string(value)

  defp do_to_json(_type, value), do: value

  defp type(key), do: elem(Keyword.fetch!(@all, key), 0)
end
