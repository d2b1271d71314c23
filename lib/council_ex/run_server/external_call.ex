defmodule CouncilEx.RunServer.ExternalCall do
  @moduledoc false
  # A seat whose provider names a BEAM dispatcher (CouncilEx.Provider, e.g.
  # the Mock): the C round loop renders the request and asks the run's
  # process, which answers it here, in a task under the run's process so
  # that $callers reaches the test that scripted it.

  alias CouncilEx.{Error, JSON, Provider, Request, Response}

  @doc """
  Answers the call (in a task the run's process owns); tokens go to
  `server` as `{:external_token, step, seat, chunk}`.
  """
  @spec call(map(), binary(), map(), pid()) :: {:ok, term()} | {:error, Error.t()} | term()
  def call(%{dispatcher: {:council, council, mapper}} = seat, _body, ctx, _server) do
    CouncilEx.RunServer.SubCouncil.run(council, mapper, ctx, seat)
  rescue
    e -> {:error, error(:sub_council_failed, Exception.message(e))}
  end

  def call(seat, body, ctx, server) do
    with {:ok, request} <- request(seat, body, ctx),
         {:ok, {dispatcher, provider_opts}} <- Provider.resolve(seat.provider) do
      dispatch(dispatcher, request, provider_opts, seat, ctx, server)
    else
      {:error, %Error{} = e} ->
        {:error, e}

      {:error, :unknown_provider} ->
        {:error, error(:unknown_provider, "provider #{inspect(seat.provider)} is gone")}
    end
  rescue
    e -> {:error, error(:dispatcher_crashed, Exception.message(e))}
  catch
    kind, value -> {:error, error(:dispatcher_crashed, "#{kind}: #{inspect(value)}")}
  end

  defp dispatch(dispatcher, request, provider_opts, seat, ctx, server) do
    if seat.opts[:stream] && function_exported?(dispatcher, :stream, 3) do
      on_chunk = fn chunk ->
        send(server, {:external_token, ctx.step, ctx.seat, chunk})
        :ok
      end

      normalize(dispatcher.stream(request, provider_opts, on_chunk))
    else
      normalize(dispatcher.complete(request, provider_opts))
    end
  end

  defp request(seat, body, ctx) do
    case JSON.decode(body) do
      {:ok, %{"model" => model, "messages" => messages} = map} ->
        {:ok,
         %Request{
           model: model,
           messages: Enum.map(messages, &%{role: &1["role"], content: &1["content"]}),
           temperature: map["temperature"],
           max_tokens: map["max_tokens"],
           member_id: seat.id,
           round_name: ctx.round_name,
           run_id: ctx.run_id,
           stream: seat.opts[:stream] == true
         }}

      _ ->
        {:error, error(:render_failed, "the round loop rendered a request that does not decode")}
    end
  end

  defp normalize({:ok, %Response{content: content} = response}) when is_binary(content),
    do: {:ok, response}

  defp normalize({:error, %Error{} = error}), do: {:error, error}

  defp normalize({:error, reason}),
    do: {:error, %Error{kind: :permanent, reason: reason, message: inspect(reason)}}

  defp normalize(other),
    do:
      {:error,
       error(
         :bad_dispatcher_result,
         "expected {:ok, %CouncilEx.Response{}} or {:error, _}, got: #{inspect(other)}"
       )}

  @doc "The reply the C round loop takes for a dispatcher's result (see run_reply in c_src/nif/run_nif.c)."
  @spec to_reply({:ok, Response.t()} | {:error, Error.t()}) :: tuple()
  def to_reply({:ok, %Response{} = r, _meta}), do: to_reply({:ok, r})

  def to_reply({:ok, %Response{} = r}) do
    usage = if is_map(r.usage), do: r.usage, else: %{}

    {:ok,
     %{
       content: r.content,
       model: text(r.model),
       finish_reason: text(r.finish_reason),
       input_tokens: count(usage[:input_tokens]),
       output_tokens: count(usage[:output_tokens])
     }}
  end

  def to_reply({:error, %Error{kind: kind, message: message}}) do
    kind = if kind in [:transient, :permanent, :timeout, :cancelled], do: kind, else: :permanent
    {:error, kind, text(message)}
  end

  defp text(s) when is_binary(s), do: if(String.contains?(s, <<0>>), do: nil, else: s)
  defp text(a) when is_atom(a) and a not in [nil, true, false], do: Atom.to_string(a)
  defp text(_), do: nil

  defp count(n) when is_integer(n) and n >= 0, do: n
  defp count(_), do: nil

  defp error(reason, message), do: %Error{kind: :permanent, reason: reason, message: message}
end
