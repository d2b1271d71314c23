defmodule CouncilEx.Profile do
  @moduledoc """
  A reusable bundle of capabilities (provider, model, sampling, tools,
  retry) kept apart from a member's identity: the same member on another
  profile is the same brain on a different model.

      defmodule MyApp.Profiles.OpenAIMini do
        use CouncilEx.Profile

        provider :openai
        model "gpt-4o-mini"
        temperature 0.2
        max_tokens 800
      end

      MyApp.Profiles.OpenAIMini.opts()
      #=> [provider: :openai, model: "gpt-4o-mini", temperature: 0.2, max_tokens: 800]

  ## Options

  Each option is a macro of the same name inside the profile module:

  #{CouncilEx.Options.Seat.docs(CouncilEx.Options.Seat.profile_keys())}

  Values are checked when the profile compiles; a bad one is a compile
  error naming the option, the expectation and the value.

  ## Using profiles

  A council seats members on profiles with `default_profile` and the
  member `:profile` option:

      defmodule MyCouncil do
        use CouncilEx

        default_profile MyApp.Profiles.OpenAIMini
        member :optimist, system_prompt: "Find the upside."
        member :skeptic, profile: MyApp.Profiles.Claude, temperature: 0.9,
          system_prompt: "Find the risk."
      end

  A profile is a module, or a name registered in `CouncilEx.Registry`
  (kind `:profile`) whose value is a profile module or a keyword list of
  the options above. Dynamic councils refer to profiles by name only.

  ## Resolution order

  A member's options are merged from, later winning:

    1. the application default, `config :council_ex, :default_profile`;
    2. the council's default profile;
    3. the member's `:profile`;
    4. the options written on the member itself.

  With no profile at all, the member must give `:provider` and `:model`
  itself. Module councils resolve when they compile, so the application
  default is the one configured at compile time.
  """

  alias CouncilEx.Options.Seat, as: SeatOptions

  @typedoc "A profile: a module made with `use CouncilEx.Profile`, or a registered name."
  @type ref :: module() | String.t()

  @doc "The profile's options, a keyword list in the order they were set."
  @callback opts() :: keyword()

  defmacro __using__(_opts) do
    quote do
      @behaviour CouncilEx.Profile
      import CouncilEx.Profile, only: unquote(Enum.map(SeatOptions.profile_keys(), &{&1, 1}))
      Module.register_attribute(__MODULE__, :council_profile_opts, accumulate: true)
      @before_compile CouncilEx.Profile
    end
  end

  for key <- SeatOptions.profile_keys() do
    @doc "Sets the profile's `#{inspect(key)}` option."
    defmacro unquote(key)(value) do
      key = unquote(key)
      quote do: @council_profile_opts({unquote(key), unquote(value)})
    end
  end

  defmacro __before_compile__(env) do
    opts = env.module |> Module.get_attribute(:council_profile_opts) |> Enum.reverse()
    CouncilEx.Profile.__check__!(env.module, opts)

    quote do
      @impl CouncilEx.Profile
      def opts, do: unquote(Macro.escape(opts))
    end
  end

  @doc false
  # Compile-time check of a profile module's options.
  def __check__!(module, opts) do
    case opts -- Enum.uniq_by(opts, &elem(&1, 0)) do
      [] ->
        :ok

      [{key, _} | _] ->
        raise ArgumentError,
              "#{inspect(module)}: profile option #{inspect(key)} is set more than once"
    end

    # Profiles are shared with dynamic councils: tools may be registered names.
    case option_errors(opts, :data) do
      [] -> :ok
      [message | _] -> raise ArgumentError, "#{inspect(module)}: #{message}"
    end
  end

  @doc """
  Resolves a member's options against the profiles in play.

  `member_opts` are the options written on the member, possibly with a
  `:profile`; `council_default` is the council's default profile or `nil`.
  Returns the merged keyword list (see "Resolution order"). The member's
  `:profile` key is kept, for introspection.

  Raises `ArgumentError` when a profile is neither a profile module nor a
  registered name.

  ## Examples

      iex> CouncilEx.Profile.resolve([model: "gpt-4o", provider: :openai], nil)
      [model: "gpt-4o", provider: :openai]

      iex> CouncilEx.Registry.register_profile("doc_mini", provider: :openai, model: "gpt-4o-mini")
      iex> CouncilEx.Profile.resolve([temperature: 0.9], "doc_mini")
      [provider: :openai, model: "gpt-4o-mini", temperature: 0.9]

      iex> CouncilEx.Profile.resolve([profile: "doc_nope"], nil)
      ** (ArgumentError) unknown profile "doc_nope": not a profile module and not registered in CouncilEx.Registry as a :profile

  """
  @spec resolve(keyword(), ref() | nil) :: keyword()
  def resolve(member_opts, council_default) when is_list(member_opts) do
    case resolve_opts(member_opts, council_default) do
      {:ok, opts} -> opts
      {:error, {ref, why}} -> raise ArgumentError, "unknown profile #{inspect(ref)}: #{why}"
    end
  end

  @doc false
  # resolve/2 without raising: {:ok, opts} or {:error, {profile, why}}.
  def resolve_opts(member_opts, council_default) do
    layers = [
      Application.get_env(:council_ex, :default_profile),
      council_default,
      member_opts[:profile]
    ]

    Enum.reduce_while(layers, {:ok, []}, fn
      nil, acc ->
        {:cont, acc}

      ref, {:ok, acc} ->
        case fetch(ref) do
          {:ok, opts} -> {:cont, {:ok, Keyword.merge(acc, opts)}}
          {:error, why} -> {:halt, {:error, {ref, why}}}
        end
    end)
    |> case do
      {:ok, acc} -> {:ok, Keyword.merge(acc, member_opts)}
      error -> error
    end
  end

  @doc """
  The options of a profile: a profile module, a registered name, or a
  keyword list of profile options.

  Returns `{:ok, opts}` or `{:error, why}` with a message.

      iex> CouncilEx.Profile.fetch(provider: :openai, model: "gpt-4o")
      {:ok, [provider: :openai, model: "gpt-4o"]}
      iex> CouncilEx.Profile.fetch(temperature: "hot")
      {:error, "expected temperature to be a number from 0 to 2, got: \\"hot\\""}
  """
  @spec fetch(ref() | keyword()) :: {:ok, keyword()} | {:error, String.t()}
  def fetch(""), do: {:error, "a profile name must not be empty"}

  def fetch(name) when is_binary(name) do
    case CouncilEx.Registry.lookup(:profile, name) do
      nil ->
        {:error, "not a profile module and not registered in CouncilEx.Registry as a :profile"}

      value when is_binary(value) ->
        {:error, "registered profiles must be modules or keyword lists"}

      value ->
        fetch(value)
    end
  end

  def fetch(opts) when is_list(opts) do
    cond do
      not Keyword.keyword?(opts) -> {:error, "expected a keyword list of profile options"}
      (errors = option_errors(opts, :data)) != [] -> {:error, hd(errors)}
      true -> {:ok, opts}
    end
  end

  def fetch(module) when is_atom(module) and module not in [nil, true, false] do
    cond do
      match?({:module, _}, Code.ensure_compiled(module)) and function_exported?(module, :opts, 0) ->
        {:ok, module.opts()}

      true ->
        {:error, "not a profile module (no opts/0; did you `use CouncilEx.Profile`?)"}
    end
  end

  def fetch(_other),
    do: {:error, "expected a profile module, a registered name or a keyword list"}

  # The problems of a profile's options, as messages (CouncilEx.Options.Seat).
  defp option_errors(opts, context) do
    for {key, code, message} <- SeatOptions.errors(opts, :profile, context) ++ atom_provider(opts) do
      if code == :unknown_option,
        do:
          "unknown profile option #{inspect(key)}; known options: #{inspect(SeatOptions.profile_keys())}",
        else: message
    end
  end

  # A profile names its provider by atom; strings are for JSON only.
  defp atom_provider(opts) do
    case opts[:provider] do
      name when is_binary(name) ->
        [
          {:provider, :invalid_option,
           "expected provider to be a provider id (an atom), got: #{inspect(name)}"}
        ]

      _ ->
        []
    end
  end
end
