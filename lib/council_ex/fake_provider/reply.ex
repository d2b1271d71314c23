defmodule CouncilEx.FakeProvider.Reply do
  @moduledoc false
  # The bodies CouncilEx.FakeProvider sends: OpenAI chat.completion objects
  # and OpenAI-style error objects. Pure functions, so every reply is a
  # function of the request alone and tests can predict it exactly.

  alias CouncilEx.JSON

  @excerpt_length 60

  @doc """
  The text the fake answers with when no script says otherwise: the model,
  the first #{@excerpt_length} characters of the prompt and a short hash of
  the whole prompt, so two prompts sharing a prefix still get different
  answers.
  """
  @spec default_content(String.t(), String.t()) :: String.t()
  def default_content(model, prompt) when is_binary(model) and is_binary(prompt) do
    "#{model} answers: #{String.slice(prompt, 0, @excerpt_length)} [#{digest(prompt)}]"
  end

  @doc """
  The text of the last message with role "user" in an OpenAI `messages`
  list, or "" when there is none. Content given as a list of parts (the
  multimodal form) is reduced to its text parts joined by newlines.
  """
  @spec last_user_prompt(term()) :: String.t()
  def last_user_prompt(messages) when is_list(messages) do
    messages
    |> Enum.filter(&match?(%{"role" => "user"}, &1))
    |> List.last()
    |> case do
      nil -> ""
      message -> message_text(message)
    end
  end

  def last_user_prompt(_messages), do: ""

  @doc "A chat.completion body (encoded JSON) answering `request` with `content`."
  @spec completion(map(), String.t() | nil) :: binary()
  def completion(%{"model" => model, "messages" => messages}, content) do
    content = content || default_content(model, last_user_prompt(messages))
    prompt_tokens = messages |> Enum.map(&words(message_text(&1))) |> Enum.sum()
    completion_tokens = words(content)

    JSON.encode!(%{
      "id" => "chatcmpl-fake-#{digest({model, messages})}",
      "object" => "chat.completion",
      # Fixed so that identical requests get byte-identical replies.
      "created" => 0,
      "model" => model,
      "choices" => [
        %{
          "index" => 0,
          "message" => %{"role" => "assistant", "content" => content},
          "finish_reason" => "stop"
        }
      ],
      "usage" => %{
        "prompt_tokens" => prompt_tokens,
        "completion_tokens" => completion_tokens,
        "total_tokens" => prompt_tokens + completion_tokens
      }
    })
  end

  @doc """
  An OpenAI-style error body for `status`. `overrides` may set `:message`,
  `:type` and `:code`; the defaults follow what OpenAI sends for the status.
  """
  @spec error(pos_integer(), map()) :: binary()
  def error(status, overrides \\ %{}) do
    {type, code, message} = error_defaults(status)

    JSON.encode!(%{
      "error" => %{
        "message" => Map.get(overrides, :message, message),
        "type" => Map.get(overrides, :type, type),
        "param" => nil,
        "code" => Map.get(overrides, :code, code)
      }
    })
  end

  defp error_defaults(400), do: {"invalid_request_error", nil, "Bad request."}

  defp error_defaults(401),
    do: {"invalid_request_error", "invalid_api_key", "Incorrect API key provided."}

  defp error_defaults(403),
    do: {"permission_error", nil, "You are not allowed to use this model."}

  defp error_defaults(404),
    do: {"invalid_request_error", "model_not_found", "The model does not exist."}

  defp error_defaults(408), do: {"server_error", nil, "Request timed out."}

  defp error_defaults(429),
    do: {"requests", "rate_limit_exceeded", "Rate limit reached for requests."}

  defp error_defaults(status) when status >= 500,
    do: {"server_error", nil, "The server had an error while processing your request."}

  defp error_defaults(_status), do: {"invalid_request_error", nil, "Request failed."}

  defp message_text(%{"content" => content}) when is_binary(content), do: content

  defp message_text(%{"content" => parts}) when is_list(parts) do
    parts
    |> Enum.flat_map(fn
      %{"type" => "text", "text" => text} when is_binary(text) -> [text]
      _other -> []
    end)
    |> Enum.join("\n")
  end

  defp message_text(_message), do: ""

  defp words(text), do: text |> String.split() |> length()

  # phash2 is stable across nodes and OTP releases, which keeps replies
  # reproducible between test runs.
  defp digest(term) do
    term
    |> :erlang.phash2(0x1000000)
    |> Integer.to_string(16)
    |> String.downcase()
    |> String.pad_leading(6, "0")
  end
end
