defmodule CouncilEx.Engine do
  @moduledoc false
  # Lowers a %CouncilEx.Spec{} plus input and run options into the map the C
  # round loop runs (see decode_spec in c_src/council_nif.c), resolving
  # providers and API keys at the last moment. The map holds secrets: it is
  # handed straight to the NIF and never stored, logged or returned.

  alias CouncilEx.{Error, Input, Member, Native, Provider, Spec}

  @default_timeout_ms 120_000
  @default_connect_timeout_ms 10_000
  @default_max_response_bytes 8 * 1024 * 1024

  @doc "Starts the C run, owned by the calling process. Events arrive tagged with `tag`."
  @spec start(Spec.t(), term(), keyword(), reference()) :: {:ok, reference()} | {:error, Error.t()}
  def start(%Spec{} = spec, input, opts, tag) do
    with {:ok, text} <- render_input(input),
         {:ok, seats} <- build_seats(spec, opts) do
      engine_spec = %{
        input: text,
        seats: seats,
        has_chair: spec.chair != nil,
        rounds: Spec.round_names(spec),
        max_response_bytes: opt(opts, :max_response_bytes, @default_max_response_bytes)
      }

      call_nif(engine_spec, tag)
    end
  end

  @doc """
  Checks, before any process starts, that a run could start: the input
  renders and every seat's provider and API key resolve. Keys are looked up
  and dropped.
  """
  @spec check(Spec.t(), term(), keyword()) :: :ok | {:error, Error.t()}
  def check(%Spec{} = spec, input, opts) do
    with {:ok, _text} <- render_input(input),
         {:ok, _seats} <- build_seats(spec, opts),
         do: :ok
  end

  @doc "Seat metadata (never secrets) in seat order: `{id, provider, model}`."
  @spec seat_info(Spec.t()) :: [{atom(), atom() | nil, String.t() | nil}]
  def seat_info(%Spec{} = spec) do
    for {id, _mod, opts} <- Spec.seats(spec), do: {id, opts[:provider], opts[:model]}
  end

  # A badarg from the NIF would carry the spec (and its keys) in the
  # stacktrace: never let it escape.
  defp call_nif(engine_spec, tag) do
    case Native.run_start(engine_spec, tag) do
      {:ok, run} -> {:ok, run}
      {:error, {:invalid_spec, why}} -> {:error, validation(:invalid_spec, why)}
      {:error, reason} -> {:error, %Error{kind: :transient, reason: reason, message: "engine refused the run"}}
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

  defp build_seats(spec, opts) do
    spec
    |> Spec.seats()
    |> Enum.reduce_while({:ok, []}, fn seat, {:ok, acc} ->
      case build_seat(seat, opts) do
        {:ok, s} -> {:cont, {:ok, [s | acc]}}
        {:error, _} = error -> {:halt, error}
      end
    end)
    |> case do
      {:ok, seats} -> {:ok, Enum.reverse(seats)}
      error -> error
    end
  end

  defp build_seat({id, module, seat_opts}, opts) do
    provider = seat_opts[:provider]

    with {:ok, {adapter, provider_opts}} <- resolve(provider, id),
         {:ok, key} <- api_key(provider, provider_opts, id) do
      {:ok,
       %{
         id: to_string(id),
         url: adapter.endpoint(provider_opts),
         headers: adapter.headers(key, provider_opts),
         model: seat_opts[:model],
         system_prompt: Member.prompt_for(module, seat_opts),
         temperature: seat_opts[:temperature],
         max_tokens: seat_opts[:max_tokens],
         timeout_ms: seat_opts[:timeout_ms] || opt(opts, :member_timeout_ms, @default_timeout_ms),
         connect_timeout_ms:
           seat_opts[:connect_timeout_ms] ||
             opt(opts, :connect_timeout_ms, @default_connect_timeout_ms)
       }}
    end
  end

  defp resolve(provider, id) do
    case Provider.resolve(provider) do
      {:ok, found} ->
        {:ok, found}

      {:error, :unknown_provider} ->
        {:error,
         %Error{
           validation(:unknown_provider, "provider #{inspect(provider)} is not configured under :council_ex, :providers")
           | member_id: id,
             provider: provider
         }}
    end
  end

  defp api_key(provider, provider_opts, id) do
    case Provider.api_key(provider, provider_opts) do
      {:ok, key} -> {:ok, key}
      {:error, why} -> {:error, %Error{validation(:missing_api_key, why) | member_id: id, provider: provider}}
    end
  end

  defp opt(opts, key, default) do
    Keyword.get_lazy(opts, key, fn -> Application.get_env(:council_ex, key, default) end)
  end

  defp validation(reason, message), do: %Error{kind: :validation, reason: reason, message: message}
end
