defmodule CouncilEx.RunServer.Hooks do
  @moduledoc false
  # The user code a run calls between C steps: routers, custom rounds'
  # build_input/3, pairwise judge functions and iterate's until. A hook
  # that raises, or answers something unusable, gives an %Error{} that
  # fails the run with a message naming the hook.

  alias CouncilEx.Error

  @doc "The member ids a router seats for a round (all of them without a router); see `CouncilEx.Router.select/4`."
  @spec route(term(), term(), CouncilEx.Context.t(), [term()]) ::
          {:ok, [term()]} | {:error, Error.t()}
  def route(nil, _input, _ctx, ids), do: {:ok, ids}
  def route(router, input, ctx, ids), do: CouncilEx.Router.select(router, input, ctx, ids)

  @doc """
  The answer to the C loop's seats_needed: per member, in seat order,
  `true`/`false` (sits or not), or for a custom round its message (a
  binary) or nil.
  """
  @spec seat_inputs(map(), [term()], [term()], CouncilEx.Context.t()) ::
          {:ok, [boolean() | binary() | nil]} | {:error, Error.t()}
  def seat_inputs(%{kind: :custom, module: module, opts: opts}, picked, ids, ctx) do
    Enum.reduce_while(ids, {:ok, []}, fn id, {:ok, acc} ->
      if id in picked do
        case call(fn -> module.build_input(id, ctx, opts) end, "#{inspect(module)}.build_input/3") do
          {:ok, text} when is_binary(text) ->
            if String.valid?(text),
              do: {:cont, {:ok, [text | acc]}},
              else:
                {:halt,
                 {:error, hook_error("#{inspect(module)}.build_input/3 returned invalid UTF-8")}}

          {:ok, other} ->
            {:halt,
             {:error,
              hook_error(
                "#{inspect(module)}.build_input/3 must return a string, got: #{inspect(other)}"
              )}}

          error ->
            {:halt, error}
        end
      else
        {:cont, {:ok, [nil | acc]}}
      end
    end)
    |> case do
      {:ok, list} -> {:ok, Enum.reverse(list)}
      error -> error
    end
  end

  def seat_inputs(_info, picked, ids, _ctx), do: {:ok, Enum.map(ids, &(&1 in picked))}

  @doc "Runs a judge function on two answers (in a task the run's process owns): `:a`, `:b` or `:error`."
  @spec judge((term(), term() -> :a | :b), term(), term()) :: :a | :b | :error
  def judge(fun, a, b) do
    case call(fn -> fun.(a, b) end, "judge") do
      {:ok, verdict} when verdict in [:a, :b] -> verdict
      _ -> :error
    end
  end

  @doc "Whether an iterated round stops after `curr`."
  @spec until(function(), term(), term()) :: {:ok, boolean()} | {:error, Error.t()}
  def until(fun, prev, curr) do
    case call(fn -> fun.(prev, curr) end, "until") do
      {:ok, stop?} when is_boolean(stop?) -> {:ok, stop?}
      {:ok, other} -> {:error, hook_error("until must return a boolean, got: #{inspect(other)}")}
      error -> error
    end
  end

  defp call(fun, what) do
    {:ok, fun.()}
  rescue
    e -> {:error, hook_error("#{what} raised: " <> Exception.message(e))}
  catch
    kind, value -> {:error, hook_error("#{what} failed: #{kind} #{inspect(value)}")}
  end

  defp hook_error(message), do: %Error{kind: :permanent, reason: :hook_failed, message: message}
end
