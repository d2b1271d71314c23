defmodule CouncilEx.Plan.Seats do
  @moduledoc false
  # A council's seats as the C round loop takes them (members, then the
  # chair, then the pairwise rounds' own judges), and what the run's
  # process keeps about each. The seats' options passed the rules already;
  # what is checked here is the environment: the provider is configured
  # and sane, its API key resolves, its adapter or dispatcher loads, and
  # output and tool schemas are JSON the C side compiles.

  alias CouncilEx.{Error, JSON, Member, Native, Provider, Rounds, Spec}
  alias CouncilEx.Council.Rules
  alias CouncilEx.Options.{Run, Seat}

  @typedoc "What the run's process keeps about a seat (never secrets)."
  @type info :: %{
          id: atom() | String.t(),
          provider: atom() | :council,
          model: String.t(),
          opts: keyword(),
          dispatcher: module() | {:council, term(), (term() -> term()) | nil} | nil
        }

  @typedoc """
  A seat as the C round loop takes it. HTTP seats carry their provider's
  endpoint (`codec`, `base_url`, `api_key`, `referer`, `title`,
  `headers`); seats answered in the BEAM (a dispatcher such as the Mock,
  or a sub-council) carry `external: true` instead.
  """
  @type c_seat :: %{
          required(:id) => String.t(),
          required(:model) => String.t(),
          required(:retry_max_attempts) => 1..100,
          required(:retry_base_ms) => non_neg_integer(),
          required(:timeout_ms) => pos_integer(),
          required(:weight) => float(),
          optional(:external) => true,
          optional(:codec) => String.t(),
          optional(:base_url) => String.t() | nil,
          optional(:api_key) => {:api_key, atom(), term()} | String.t() | nil,
          optional(:referer) => String.t() | nil,
          optional(:title) => String.t() | nil,
          optional(:headers) => [String.t()],
          optional(:system_prompt) => String.t() | nil,
          optional(:temperature) => number() | nil,
          optional(:max_tokens) => pos_integer() | nil,
          optional(:stream) => boolean(),
          optional(:output_schema) => reference() | nil,
          optional(:tools) => [
            %{name: String.t(), description: String.t(), parameters: String.t()}
          ],
          optional(:tool_choice) => String.t() | nil,
          optional(:max_tool_turns) => non_neg_integer(),
          optional(:max_tool_calls) => pos_integer(),
          optional(:confidence) => :self_report | :logprob | nil,
          optional(:request_timeout_ms) => pos_integer() | nil,
          optional(:connect_timeout_ms) => pos_integer()
        }

  @doc """
  The seats of a checked council: `{[{c_seat, info}], errors}`, the errors
  being what the environment does not allow (paths like
  `["members", 0, "provider"]`).
  """
  @spec lower(Spec.t(), keyword()) :: {[{c_seat(), info()}], [Rules.error()]}
  def lower(%Spec{} = spec, opts) do
    seats = seats(spec)
    config = Application.get_env(:council_ex, :providers, [])

    # Each provider is resolved and checked once, however many seats it serves.
    providers =
      for(
        {{_, _, seat_opts}, _, _} <- seats,
        not Keyword.has_key?(seat_opts, :council),
        uniq: true,
        do: seat_opts[:provider]
      )
      |> Map.new(&{&1, resolve_provider(&1, config)})

    env = %{
      providers: providers,
      timeout_ms: Run.setting(opts, :member_timeout_ms),
      connect_timeout_ms: Run.setting(opts, :connect_timeout_ms),
      retry: Run.setting(opts, :retry)
    }

    results = for {seat, path, role} <- seats, do: seat(seat, path, role, env)
    {for({:ok, s} <- results, do: s), for({:error, errors} <- results, e <- errors, do: e)}
  end

  # Every seat in C order, with where it sits in the council and its role.
  defp seats(%Spec{} = spec) do
    members = for {s, i} <- Enum.with_index(spec.members), do: {s, ["members", i], :member}
    chair = if spec.chair, do: [{spec.chair, ["chair"], :chair}], else: []

    judges =
      for {i, {module, opts}} <- Rounds.judge_seats(spec),
          do:
            {{Keyword.get(opts, :id, :judge), module, Keyword.delete(opts, :id)},
             ["rounds", i, "judge"], :judge}

    members ++ chair ++ judges
  end

  defp seat({id, module, opts}, path, role, env) do
    if Keyword.has_key?(opts, :council),
      do: {:ok, sub_council(id, opts, env)},
      else: provider_seat(id, module, opts, path, role, env)
  end

  # A member that is a council: the run's process answers its calls with a
  # nested run (see CouncilEx.RunServer.SubCouncil).
  defp sub_council(id, opts, env) do
    {attempts, base_ms} = opts[:retry] || env.retry

    info = %{
      id: id,
      provider: :council,
      model: "council",
      opts: opts,
      dispatcher: {:council, opts[:council], opts[:input_mapper]}
    }

    seat = %{
      id: to_string(id),
      external: true,
      model: "council",
      retry_max_attempts: attempts,
      retry_base_ms: base_ms,
      weight: weight(opts),
      timeout_ms: opts[:timeout_ms] || env.timeout_ms
    }

    {seat, info}
  end

  defp provider_seat(id, module, opts, path, role, env) do
    fail = fn key, code, message ->
      Rules.error(path ++ [key], code, "#{Rules.label(role, id)}: #{message}", id)
    end

    case Map.fetch!(env.providers, opts[:provider]) do
      {:ok, module_or_adapter, transport} ->
        transport =
          if transport[:api_key],
            do: %{transport | api_key: {:api_key, opts[:provider], id}},
            else: transport

        {schema, schema_errors} = output_schema(opts[:output_schema], fail)
        {tools, tool_errors} = tools(opts[:tools] || [], transport, fail)

        case schema_errors ++ tool_errors do
          [] ->
            {:ok,
             {c_seat(id, module, opts, transport, schema, tools, env),
              info(id, opts, transport, module_or_adapter)}}

          errors ->
            {:error, errors}
        end

      {:error, code, message} ->
        {:error, [fail.("provider", code, message)]}
    end
  end

  defp resolve_provider(provider, providers) do
    case Provider.resolve(provider, providers) do
      {:ok, {module_or_adapter, provider_opts}} ->
        with {:ok, transport} <- transport(module_or_adapter, provider, provider_opts),
             do: {:ok, module_or_adapter, transport}

      {:error, :unknown_provider} ->
        {:error, :unknown_provider,
         "provider #{inspect(provider)} is not configured under config :council_ex, :providers"}
    end
  end

  defp info(id, opts, transport, module_or_adapter) do
    %{
      id: id,
      provider: opts[:provider],
      model: opts[:model],
      opts: opts,
      dispatcher: if(transport[:external], do: module_or_adapter)
    }
  end

  defp c_seat(id, module, opts, transport, schema, tools, env) do
    {attempts, base_ms} = opts[:retry] || env.retry

    Map.merge(transport, %{
      id: to_string(id),
      model: opts[:model],
      system_prompt: Member.prompt_for(module, opts),
      temperature: opts[:temperature],
      max_tokens: opts[:max_tokens],
      stream: opts[:stream] == true,
      output_schema: schema,
      tools: tools,
      tool_choice: tool_choice(opts[:tool_choice]),
      max_tool_turns: opts[:max_tool_turns] || 0,
      max_tool_calls: Seat.setting(opts, :max_tool_calls),
      weight: weight(opts),
      confidence: opts[:confidence],
      retry_max_attempts: attempts,
      retry_base_ms: base_ms,
      timeout_ms: opts[:timeout_ms] || env.timeout_ms,
      request_timeout_ms: opts[:request_timeout_ms],
      connect_timeout_ms: opts[:connect_timeout_ms] || env.connect_timeout_ms
    })
  end

  defp weight(opts), do: (opts[:weight] || 1) / 1

  defp tool_choice(nil), do: nil
  defp tool_choice(choice) when is_atom(choice), do: Atom.to_string(choice)
  defp tool_choice(name), do: name

  # A dispatcher's seats are answered by the run's process: no URL, no key.
  # An HTTP seat's key stands as a placeholder until Plan.start/2.
  defp transport(module, provider, provider_opts) do
    cond do
      provider_opts[:dispatcher] != nil ->
        if Code.ensure_loaded?(module) and function_exported?(module, :complete, 2),
          do: {:ok, %{external: true}},
          else:
            {:error, :invalid_dispatcher,
             "provider #{inspect(provider)}: dispatcher #{inspect(module)} does not implement CouncilEx.Provider"}

      not (Code.ensure_loaded?(module) and function_exported?(module, :codec, 0)) ->
        {:error, :invalid_adapter,
         "provider #{inspect(provider)}: #{inspect(module)} is not a CouncilEx.Provider.Adapter"}

      true ->
        case {Provider.check_config(provider, provider_opts),
              Provider.api_key(provider, provider_opts)} do
          {:ok, {:ok, _key}} ->
            {:ok,
             CouncilEx.Provider.Adapter.endpoint(module, provider_opts, {:api_key, provider, nil})}

          {{:error, why}, _} ->
            {:error, :invalid_provider, why}

          {:ok, {:error, why}} ->
            {:error, :missing_api_key, why}
        end
    end
  end

  # A seat's output schema compiled by the C side once, before the run; the
  # compiled schema goes into the seat.
  defp output_schema(nil, _fail), do: {nil, []}
  defp output_schema({:json_schema, map}, fail), do: output_schema(map, fail)

  defp output_schema(module, fail) when is_atom(module),
    do: output_schema(module.json_schema(), fail)

  defp output_schema(map, fail) do
    with {:ok, json} <- JSON.encode(map),
         {:ok, schema} <- Native.schema_compile(json) do
      {schema, []}
    else
      {:error, why} when is_binary(why) ->
        {nil, [fail.("output_schema", :invalid_output_schema, "output_schema: #{why}")]}

      {:error, why} ->
        {nil,
         [
           fail.(
             "output_schema",
             :invalid_output_schema,
             "output_schema does not encode as JSON: #{inspect(why)}"
           )
         ]}
    end
  end

  # The tools a seat offers, as the NIF takes them. Dispatcher seats answer
  # in the BEAM and get no tool loop: refused rather than ignored.
  defp tools([], _transport, _fail), do: {[], []}

  defp tools(_tools, %{external: true}, fail),
    do:
      {[],
       [
         fail.(
           "tools",
           :unsupported_option,
           "tools run on HTTP providers only, not on dispatcher providers"
         )
       ]}

  defp tools(tools, _transport, fail) do
    results =
      for tool <- tools do
        case JSON.encode(tool.parameters_schema()) do
          {:ok, parameters} ->
            {:ok, %{name: tool.name(), description: tool.description(), parameters: parameters}}

          {:error, why} ->
            {:error,
             fail.(
               "tools",
               :invalid_tool,
               "#{inspect(tool)}.parameters_schema/0 does not encode as JSON: #{inspect(why)}"
             )}
        end
      end

    {for({:ok, t} <- results, do: t), for({:error, e} <- results, do: e)}
  end

  @doc """
  The C spec with its API keys in, looked up again at the last moment, or
  an error when one no longer resolves.
  """
  @spec put_keys(map()) :: {:ok, map()} | {:error, Error.t()}
  def put_keys(%{seats: seats} = c_spec) do
    providers = Application.get_env(:council_ex, :providers, [])

    seats
    |> Enum.reduce_while({:ok, []}, fn
      %{api_key: {:api_key, provider, id}} = seat, {:ok, acc} ->
        case key(provider, providers) do
          {:ok, key} ->
            {:cont, {:ok, [%{seat | api_key: key} | acc]}}

          {:error, why} ->
            {:halt,
             {:error,
              %Error{
                kind: :validation,
                reason: :missing_api_key,
                message: why,
                member_id: id,
                provider: provider
              }}}
        end

      seat, {:ok, acc} ->
        {:cont, {:ok, [seat | acc]}}
    end)
    |> case do
      {:ok, seats} -> {:ok, %{c_spec | seats: Enum.reverse(seats)}}
      error -> error
    end
  end

  defp key(provider, providers) do
    case Provider.resolve(provider, providers) do
      {:ok, {_module, provider_opts}} ->
        Provider.api_key(provider, provider_opts)

      {:error, :unknown_provider} ->
        {:error, "provider #{inspect(provider)} is no longer configured"}
    end
  end
end
