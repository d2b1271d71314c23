defmodule CouncilEx.Plan do
  @moduledoc false
  # Lowers a %CouncilEx.Spec{} plus input and run options into the map the C
  # round loop runs (see c_src/spec_nif.c). prepare/3 lowers it with each API
  # key as a placeholder, so the plan can travel to the run's process;
  # start/2 puts the keys in at the last moment. The keyed map is handed
  # straight to the NIF and never stored, logged or returned.

  import Bitwise

  alias CouncilEx.{Error, Member, Native, Provider, Spec}
  alias CouncilEx.Plan.Input
  alias CouncilEx.Plan.Rounds

  @default_timeout_ms 120_000
  @default_connect_timeout_ms 10_000
  @default_max_response_bytes 8 * 1024 * 1024
  @default_retry {2, 1000}

  @typedoc """
  A run, lowered and checked, ready to start: the C spec without its API
  keys (each stands as `{:api_key, provider, member_id}` until `start/2`), the seat
  infos and the round infos. Safe to pass between processes and to inspect.
  """
  @type plan :: %{spec: map(), seats: [map()], rounds: [Rounds.info()]}

  @doc """
  Lowers and checks a run before any process starts: the input renders,
  every seat's provider and API key resolve, the rounds lower. The keys are
  looked up and dropped; `start/2` looks them up again.
  """
  @spec prepare(Spec.t(), term(), keyword()) :: {:ok, plan()} | {:error, Error.t()}
  def prepare(%Spec{} = spec, input, opts) do
    with {:ok, engine_spec, seats, rounds} <- lower(spec, input, opts),
         do: {:ok, %{spec: engine_spec, seats: seats, rounds: rounds}}
  end

  @doc """
  Starts the C run of a plan, owned by the calling process. Events arrive
  tagged with `tag`. Returns the run and what the process keeps about each
  seat, in seat order (never secrets): id, provider, model, the seat's
  options, and the BEAM dispatcher answering its calls (nil for HTTP seats).
  """
  @spec start(plan(), reference()) ::
          {:ok, reference(), [map()], [Rounds.info()]} | {:error, Error.t()}
  def start(%{spec: engine_spec, seats: seats, rounds: rounds}, tag) do
    with {:ok, engine_spec} <- put_keys(engine_spec),
         {:ok, run} <- call_nif(engine_spec, tag),
         do: {:ok, run, seats, rounds}
  end

  # The keys go in at the last moment, into a map handed straight to the NIF.
  defp put_keys(%{seats: seats} = engine_spec) do
    providers = Application.get_env(:council_ex, :providers, [])

    seats
    |> Enum.reduce_while({:ok, []}, fn
      %{api_key: {:api_key, provider, id}} = seat, {:ok, acc} ->
        case key(provider, id, providers) do
          {:ok, key} -> {:cont, {:ok, [%{seat | api_key: key} | acc]}}
          error -> {:halt, error}
        end

      seat, {:ok, acc} ->
        {:cont, {:ok, [seat | acc]}}
    end)
    |> case do
      {:ok, seats} -> {:ok, %{engine_spec | seats: Enum.reverse(seats)}}
      error -> error
    end
  end

  defp key(provider, id, providers) do
    with {:ok, {_module, provider_opts}} <- resolve(provider, id, providers),
         do: api_key(provider, provider_opts, id)
  end

  # The C spec (its keys as placeholders), the seat infos and the round
  # infos.
  defp lower(spec, input, opts) do
    judges = Rounds.judge_seats(spec)
    n_members = length(spec.members)
    first_judge = n_members + if(spec.chair, do: 1, else: 0)

    judge_at =
      judges |> Enum.with_index(first_judge) |> Map.new(fn {{idx, _}, seat} -> {idx, seat} end)

    judge_seats =
      for {_idx, {module, jopts}} <- judges, do: {Keyword.get(jopts, :id, :judge), module, jopts}

    with {:ok, text} <- render_input(input),
         {:ok, seats} <- build_seats(Spec.seats(spec) ++ judge_seats, opts),
         {:ok, fallback} <- chair_fallback(spec),
         {:ok, c_rounds, rounds} <- Rounds.lower(spec, judge_at) do
      engine_spec = %{
        input: text,
        seats: Enum.map(seats, &elem(&1, 0)),
        n_members: n_members,
        has_chair: spec.chair != nil,
        chair_fallback: fallback,
        rounds: c_rounds,
        max_response_bytes: opt(opts, :max_response_bytes, @default_max_response_bytes),
        seed: :rand.uniform(1 <<< 62)
      }

      {:ok, engine_spec, Enum.map(seats, &elem(&1, 1)), rounds}
    end
  end

  # The member seats that take over a failed chair: `fallback: [ids]` or
  # `fallback: :members` on the chair.
  defp chair_fallback(%Spec{chair: nil}), do: {:ok, []}

  defp chair_fallback(%Spec{chair: {chair_id, _, chair_opts}, members: members}) do
    ids = Enum.map(members, &elem(&1, 0))

    case Keyword.get(chair_opts, :fallback, []) do
      :members ->
        {:ok, Enum.to_list(0..(length(ids) - 1))}

      list when is_list(list) ->
        Enum.reduce_while(list, {:ok, []}, fn id, {:ok, acc} ->
          case Enum.find_index(ids, &(&1 == id)) do
            nil ->
              {:halt,
               {:error,
                validation(
                  :invalid_fallback,
                  "chair #{inspect(chair_id)}: fallback #{inspect(id)} is not a member"
                )}}

            i ->
              {:cont, {:ok, acc ++ [i]}}
          end
        end)

      other ->
        {:error,
         validation(
           :invalid_fallback,
           "chair #{inspect(chair_id)}: fallback must be a list of member ids or :members, got: #{inspect(other)}"
         )}
    end
  end

  @doc """
  Every problem that would stop the council's seats from running, as
  `%{path, code, message}` maps (see `CouncilEx.validate/1`).
  """
  @spec check_seats(Spec.t()) :: [%{path: [String.t()], code: atom(), message: String.t()}]
  def check_seats(%Spec{} = spec) do
    providers = Application.get_env(:council_ex, :providers, [])

    seat_problems =
      for seat <- Spec.seats(spec), {:error, %Error{} = e} <- [build_seat(seat, [], providers)] do
        %{
          path: ["members", to_string(e.member_id), field(e.reason)],
          code: e.reason,
          message: e.message
        }
      end

    round_problems =
      case Rounds.lower(spec) do
        {:error, %Error{} = e} -> [%{path: ["rounds"], code: e.reason, message: e.message}]
        {:ok, _, _} -> []
      end

    fallback_problems =
      case chair_fallback(spec) do
        {:error, %Error{} = e} ->
          [%{path: ["chair", "fallback"], code: e.reason, message: e.message}]

        {:ok, _} ->
          []
      end

    seat_problems ++ round_problems ++ fallback_problems
  end

  defp field(:invalid_output_schema), do: "output_schema"
  defp field(:invalid_retry), do: "retry"
  defp field(:unsupported_option), do: "options"
  defp field(_provider_problem), do: "provider"

  @doc "The BEAM dispatcher answering a provider's calls, or nil for HTTP providers."
  @spec dispatcher(atom()) :: module() | nil
  def dispatcher(provider) do
    case Provider.resolve(provider) do
      {:ok, {module, provider_opts}} -> if provider_opts[:dispatcher], do: module
      _ -> nil
    end
  end

  # A badarg from the NIF would carry the spec (and its keys) in the
  # stacktrace: never let it escape.
  defp call_nif(engine_spec, tag) do
    case Native.run_start(engine_spec, tag) do
      {:ok, run} ->
        {:ok, run}

      {:error, {:invalid_spec, why}} ->
        {:error, validation(:invalid_spec, why)}

      {:error, reason} ->
        {:error, %Error{kind: :transient, reason: reason, message: "engine refused the run"}}
    end
  rescue
    _ -> {:error, validation(:invalid_spec, "the engine rejected the run spec")}
  end

  defp render_input(input) do
    case Input.render(input) do
      {:ok, text} -> {:ok, text}
      {:error, why} -> {:error, validation(:invalid_input, why)}
    end
  end

  defp build_seats(seats, opts) do
    providers = Application.get_env(:council_ex, :providers, [])
    opts = run_defaults(opts)

    seats
    |> Enum.reduce_while({:ok, []}, fn seat, {:ok, acc} ->
      case build_seat(seat, opts, providers) do
        {:ok, s} -> {:cont, {:ok, [s | acc]}}
        {:error, _} = error -> {:halt, error}
      end
    end)
    |> case do
      {:ok, seats} -> {:ok, Enum.reverse(seats)}
      error -> error
    end
  end

  # {engine seat map (holds secrets), seat info kept by the run's process}
  defp build_seat({_id, _module, seat_opts} = seat, opts, providers) do
    if seat_opts[:council],
      do: sub_council_seat(seat, opts),
      else: provider_seat(seat, opts, providers)
  end

  # A member that is a council: the run's process answers its calls with a
  # nested run (see CouncilEx.RunServer.SubCouncil).
  defp sub_council_seat({id, _module, seat_opts}, opts) do
    with {:ok, {attempts, base_ms}} <- retry(seat_opts, opts, id) do
      info = %{
        id: id,
        provider: :council,
        model: "council",
        opts: seat_opts,
        dispatcher: {:council, seat_opts[:council], seat_opts[:input_mapper]}
      }

      seat = %{
        id: to_string(id),
        external: true,
        model: "council",
        retry_max_attempts: attempts,
        retry_base_ms: base_ms,
        weight: weight(seat_opts),
        timeout_ms: member_timeout_ms(seat_opts, opts)
      }

      {:ok, {seat, info}}
    end
  end

  defp provider_seat({id, module, seat_opts}, opts, providers) do
    provider = seat_opts[:provider]

    with :ok <- supported(seat_opts, id),
         {:ok, {module_or_adapter, provider_opts}} <- resolve(provider, id, providers),
         {:ok, transport} <- transport(module_or_adapter, provider, provider_opts, id),
         {:ok, {attempts, base_ms}} <- retry(seat_opts, opts, id),
         {:ok, schema} <- output_schema(seat_opts[:output_schema], id),
         {:ok, tools} <- tools(seat_opts, transport, id),
         {:ok, tool_choice} <- tool_choice(seat_opts[:tool_choice], id) do
      info = %{
        id: id,
        provider: provider,
        model: seat_opts[:model],
        opts: seat_opts,
        dispatcher: if(transport[:external], do: module_or_adapter)
      }

      seat =
        Map.merge(transport, %{
          id: to_string(id),
          model: seat_opts[:model],
          system_prompt: Member.prompt_for(module, seat_opts),
          temperature: seat_opts[:temperature],
          max_tokens: seat_opts[:max_tokens],
          stream: seat_opts[:stream] == true,
          output_schema: schema,
          tools: tools,
          tool_choice: tool_choice,
          max_tool_turns: seat_opts[:max_tool_turns] || 0,
          weight: weight(seat_opts),
          confidence: seat_opts[:confidence],
          retry_max_attempts: attempts,
          retry_base_ms: base_ms,
          timeout_ms: member_timeout_ms(seat_opts, opts),
          connect_timeout_ms:
            seat_opts[:connect_timeout_ms] ||
              opt(opts, :connect_timeout_ms, @default_connect_timeout_ms)
        })

      {:ok, {seat, info}}
    end
  end

  # The tools a seat offers, as the NIF takes them. Dispatcher seats answer
  # in the BEAM and get no tool loop: refused rather than ignored.
  defp tools(seat_opts, transport, id) do
    case seat_opts[:tools] || [] do
      [] ->
        {:ok, []}

      _ when is_map_key(transport, :external) ->
        unsupported(id, "tools run on HTTP providers only, not on dispatcher providers")

      tools when is_list(tools) ->
        Enum.reduce_while(tools, {:ok, []}, fn tool, {:ok, acc} ->
          case tool_spec(tool) do
            {:ok, spec} -> {:cont, {:ok, acc ++ [spec]}}
            {:error, why} -> {:halt, unsupported(id, why)}
          end
        end)

      other ->
        unsupported(id, "tools must be a list of CouncilEx.Tool modules, got: #{inspect(other)}")
    end
  end

  defp tool_spec(tool) do
    with true <- CouncilEx.Tool.tool?(tool),
         {:ok, parameters} <- CouncilEx.JSON.encode(tool.parameters_schema()) do
      {:ok, %{name: tool.name(), description: tool.description(), parameters: parameters}}
    else
      _ ->
        {:error,
         "#{inspect(tool)} is not a CouncilEx.Tool (name/0, description/0, parameters_schema/0, execute/1)"}
    end
  end

  defp tool_choice(nil, _id), do: {:ok, nil}

  defp tool_choice(choice, _id) when choice in [:auto, :required, :none],
    do: {:ok, Atom.to_string(choice)}

  defp tool_choice(name, _id) when is_binary(name), do: {:ok, name}

  defp tool_choice(other, id),
    do:
      unsupported(
        id,
        "tool_choice must be :auto, :required, :none or a tool name, got: #{inspect(other)}"
      )

  defp unsupported(id, why) do
    {:error,
     %Error{validation(:unsupported_option, "member #{inspect(id)}: #{why}") | member_id: id}}
  end

  # A seat's output schema compiled once by the C side (a resource the seat
  # map carries): a JSON Schema map, {:json_schema, map}, or a module
  # exporting json_schema/0.
  defp output_schema(nil, _id), do: {:ok, nil}
  defp output_schema({:json_schema, map}, id), do: output_schema(map, id)

  defp output_schema(module, id) when is_atom(module) do
    if Code.ensure_loaded?(module) and function_exported?(module, :json_schema, 0),
      do: output_schema(module.json_schema(), id),
      else: schema_error(id, "#{inspect(module)} does not export json_schema/0")
  end

  defp output_schema(map, id) when is_map(map) do
    with {:ok, json} <- CouncilEx.JSON.encode(map),
         {:ok, schema} <- Native.schema_compile(json) do
      {:ok, schema}
    else
      {:error, why} when is_binary(why) -> schema_error(id, why)
      {:error, why} -> schema_error(id, "it does not encode as JSON: #{inspect(why)}")
    end
  end

  defp output_schema(other, id),
    do: schema_error(id, "expected a JSON Schema map, got: #{inspect(other)}")

  defp schema_error(id, why) do
    {:error,
     %Error{
       validation(:invalid_output_schema, "member #{inspect(id)}: output_schema: #{why}")
       | member_id: id
     }}
  end

  # Capabilities a seat may name that this engine does not run yet: refused
  # rather than silently ignored.
  @not_yet [:tool_concurrency_factor]

  defp supported(seat_opts, id) do
    confidence = seat_opts[:confidence]
    weight = seat_opts[:weight]

    case Enum.find(@not_yet, &(seat_opts[&1] not in [nil, []])) do
      nil when confidence not in [nil, :self_report, :logprob] ->
        message =
          "member #{inspect(id)}: confidence must be :self_report or :logprob, got: #{inspect(confidence)}"

        {:error, %Error{validation(:unsupported_option, message) | member_id: id}}

      nil when not (is_nil(weight) or (is_number(weight) and weight >= 0)) ->
        message = "member #{inspect(id)}: weight must be a number >= 0, got: #{inspect(weight)}"
        {:error, %Error{validation(:unsupported_option, message) | member_id: id}}

      nil ->
        :ok

      key ->
        message =
          "member #{inspect(id)}: option #{inspect(key)} is not supported by this version of CouncilEx yet"

        {:error, %Error{validation(:unsupported_option, message) | member_id: id}}
    end
  end

  defp weight(seat_opts), do: (seat_opts[:weight] || 1) / 1

  defp adapter?(module, provider, id) do
    if Code.ensure_loaded?(module) and function_exported?(module, :codec, 0) do
      :ok
    else
      message =
        "provider #{inspect(provider)}: #{inspect(module)} is not a CouncilEx.Provider.Adapter"

      {:error, %Error{validation(:invalid_adapter, message) | member_id: id, provider: provider}}
    end
  end

  @doc "The total time a seat's call may take."
  @spec member_timeout_ms(keyword(), keyword()) :: pos_integer()
  def member_timeout_ms(seat_opts, run_opts) do
    seat_opts[:timeout_ms] || opt(run_opts, :member_timeout_ms, @default_timeout_ms)
  end

  @doc """
  A seat's retry policy `{max_attempts, base_ms}`: the seat's `:retry`,
  else the run's, else `config :council_ex, :default_retry`, else
  `#{inspect(@default_retry)}`.
  """
  @spec retry_policy(keyword(), keyword()) :: term()
  def retry_policy(seat_opts, run_opts) do
    seat_opts[:retry] || run_opts[:retry] ||
      Application.get_env(:council_ex, :default_retry, @default_retry)
  end

  defp retry(seat_opts, run_opts, id) do
    case retry_policy(seat_opts, run_opts) do
      {attempts, base} = policy when attempts in 1..100 and is_integer(base) and base >= 0 ->
        {:ok, policy}

      other ->
        message = "retry must be {max_attempts 1..100, base_ms >= 0}, got: #{inspect(other)}"
        {:error, %Error{validation(:invalid_retry, message) | member_id: id}}
    end
  end

  # A dispatcher's seats are answered by the run's process: no URL, no key.
  defp transport(module, provider, provider_opts, id) do
    cond do
      provider_opts[:dispatcher] == nil ->
        with :ok <- adapter?(module, provider, id),
             {:ok, _key} <- api_key(provider, provider_opts, id),
             do:
               {:ok,
                CouncilEx.Provider.Adapter.endpoint(
                  module,
                  provider_opts,
                  {:api_key, provider, id}
                )}

      Code.ensure_loaded?(module) and function_exported?(module, :complete, 2) ->
        {:ok, %{external: true}}

      true ->
        message =
          "provider #{inspect(provider)}: dispatcher #{inspect(module)} does not implement CouncilEx.Provider"

        {:error,
         %Error{validation(:invalid_dispatcher, message) | member_id: id, provider: provider}}
    end
  end

  defp resolve(provider, id, providers) do
    case Provider.resolve(provider, providers) do
      {:ok, found} ->
        {:ok, found}

      {:error, :unknown_provider} ->
        {:error,
         %Error{
           validation(
             :unknown_provider,
             "provider #{inspect(provider)} is not configured under :council_ex, :providers"
           )
           | member_id: id,
             provider: provider
         }}
    end
  end

  defp api_key(provider, provider_opts, id) do
    case Provider.api_key(provider, provider_opts) do
      {:ok, key} ->
        {:ok, key}

      {:error, why} ->
        {:error, %Error{validation(:missing_api_key, why) | member_id: id, provider: provider}}
    end
  end

  # The run-level settings every seat falls back to, looked up once per run
  # rather than once per seat.
  defp run_defaults(opts) do
    [
      member_timeout_ms: opt(opts, :member_timeout_ms, @default_timeout_ms),
      connect_timeout_ms: opt(opts, :connect_timeout_ms, @default_connect_timeout_ms),
      retry: retry_policy([], opts)
    ] ++ opts
  end

  defp opt(opts, key, default) do
    Keyword.get_lazy(opts, key, fn -> Application.get_env(:council_ex, key, default) end)
  end

  defp validation(reason, message),
    do: %Error{kind: :validation, reason: reason, message: message}
end
