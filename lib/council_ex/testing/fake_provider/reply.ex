defmodule CouncilEx.FakeProvider.Reply do
  @moduledoc false
  # What CouncilEx.FakeProvider answers, whatever the dialect: the default
  # text, the answer a script step asks for, and the token counts. Pure
  # functions, so every reply is a function of the request alone and tests
  # can predict it exactly. The bodies themselves are in Dialect.*.

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
  The prompt among user turns given as `[text | nil]`, oldest first: the
  last one that has text at all. A turn is nil when it holds no text part
  (only tool results, say), so a tool loop keeps answering the question
  in every dialect, as it does in OpenAI's, where tool results have a role
  of their own.
  """
  @spec last_text([String.t() | nil]) :: String.t()
  def last_text(turns), do: turns |> Enum.reject(&is_nil/1) |> List.last() || ""

  @doc """
  The text of a content field: a string, or a list of parts whose text
  parts are joined with newlines (nil when there are none). `text_of`
  returns a part's text or nil.
  """
  @spec content_text(term(), (term() -> String.t() | nil)) :: String.t() | nil
  def content_text(content, _text_of) when is_binary(content), do: content

  def content_text(parts, text_of) when is_list(parts) do
    case parts |> Enum.map(text_of) |> Enum.filter(&is_binary/1) do
      [] -> nil
      texts -> Enum.join(texts, "\n")
    end
  end

  def content_text(_content, _text_of), do: nil

  @doc """
  Token count of a text: its whitespace-separated words, as
  `length(String.split(text))` counts them, without building the list
  (String.split/1 takes about a second for a 4 MB prompt).
  """
  @spec words(String.t() | nil) :: non_neg_integer()
  def words(nil), do: 0
  def words(text), do: count_words(text, 0, false)

  # The whitespace String.split/1 splits at (Unicode White_Space but the
  # no-break spaces U+00A0, U+2007 and U+202F), matched as UTF-8 bytes;
  # each of these sequences starts with a byte that begins a character,
  # so none can match inside another character.
  defp count_words(<<c, rest::binary>>, n, _in_word?) when c in [?\s, ?\t, ?\n, ?\v, ?\f, ?\r],
    do: count_words(rest, n, false)

  defp count_words(<<0xC2, 0x85, rest::binary>>, n, _in_word?), do: count_words(rest, n, false)

  defp count_words(<<0xE1, 0x9A, 0x80, rest::binary>>, n, _in_word?),
    do: count_words(rest, n, false)

  defp count_words(<<0xE2, 0x80, b, rest::binary>>, n, _in_word?)
       when b in 0x80..0x86 or b in 0x88..0x8A or b in [0xA8, 0xA9],
       do: count_words(rest, n, false)

  defp count_words(<<0xE2, 0x81, 0x9F, rest::binary>>, n, _in_word?),
    do: count_words(rest, n, false)

  defp count_words(<<0xE3, 0x80, 0x80, rest::binary>>, n, _in_word?),
    do: count_words(rest, n, false)

  defp count_words(<<_, rest::binary>>, n, true), do: count_words(rest, n, true)
  defp count_words(<<_, rest::binary>>, n, false), do: count_words(rest, n + 1, true)
  defp count_words(<<>>, n, _in_word?), do: n

  @doc """
  What to answer `call` with under script `step`; see
  `t:CouncilEx.FakeProvider.Dialect.answer/0`.

  The text is the step's `:content`, else its `:chunks` joined, else none
  when it has `:tool_calls`, else `default_content/2`. A stream sends it
  in the step's `:chunks`, else cut after each run of whitespace (a
  request that does not stream gets no pieces). With
  `:midstream_error`, the stream sends the `:chunks` (or the first half of
  those pieces) and then the error.
  """
  @spec answer(map(), map()) :: map()
  def answer(call, step) do
    tool_calls = Map.get(step, :tool_calls, [])
    content = content(call, step, tool_calls)
    # Only a stream is sent in pieces; cutting a long text is not free.
    pieces = if call.stream?, do: Map.get_lazy(step, :chunks, fn -> pieces(content) end), else: []
    error = error_fields(step)

    %{
      content: content,
      pieces: if(error && !Map.has_key?(step, :chunks), do: first_half(pieces), else: pieces),
      tool_calls: tool_calls,
      completion_tokens: completion_tokens(content, tool_calls),
      error: error
    }
  end

  @doc """
  The fields of a step's mid-stream error, or nil when it has none:
  `midstream_error: "text"` sets the message, replacing `:message`;
  `:type`, `:code` and `:retry_delay_ms` come along.
  """
  @spec error_fields(map()) :: map() | nil
  def error_fields(%{midstream_error: error} = step) do
    fields = Map.take(step, [:message, :type, :code, :retry_delay_ms])
    if is_binary(error), do: Map.put(fields, :message, error), else: fields
  end

  def error_fields(_step), do: nil

  @doc "A tool call's arguments as JSON text."
  @spec arguments_json(map()) :: String.t()
  def arguments_json(%{arguments: arguments}), do: JSON.encode!(arguments)

  @doc """
  Cuts a text in two at its middle character, as streams send tool-call
  arguments: the halves are not valid JSON on their own, which is the point.
  """
  @spec halves(String.t()) :: [String.t()]
  def halves(text), do: text |> String.split_at(div(String.length(text), 2)) |> Tuple.to_list()

  @doc "A short hex hash of any term; phash2 is stable across nodes and OTP releases."
  @spec digest(term()) :: String.t()
  def digest(term) do
    term
    |> :erlang.phash2(0x1000000)
    |> Integer.to_string(16)
    |> String.downcase()
    |> String.pad_leading(6, "0")
  end

  defp content(_call, %{content: content}, _tool_calls), do: content
  defp content(_call, %{chunks: chunks}, _tool_calls), do: Enum.join(chunks)
  defp content(_call, _step, [_ | _]), do: nil
  defp content(call, _step, []), do: default_content(call.model, call.prompt)

  defp pieces(nil), do: []
  defp pieces(""), do: []
  defp pieces(text), do: Regex.split(~r/(?<=\s)(?=\S)/u, text)

  defp first_half(pieces), do: Enum.take(pieces, div(length(pieces) + 1, 2))

  # Output tokens: the words of the text plus those of each tool call's
  # arguments as JSON.
  defp completion_tokens(content, tool_calls) do
    words(content) + Enum.sum(Enum.map(tool_calls, &words(arguments_json(&1))))
  end
end
