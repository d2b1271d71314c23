defmodule CouncilEx.JSON do
  @moduledoc """
  JSON decoding and encoding, done in C.

  Decoding parses with [cJSON](https://github.com/DaveGamble/cJSON) after a
  linear pre-scan of the input; encoding writes the term straight into a
  binary. Both run in NIFs that stay well under a millisecond on a normal
  scheduler: large inputs and large terms move to a dirty CPU scheduler (see
  "Scheduling" below).

      iex> CouncilEx.JSON.decode(~s({"model": "gpt-4o", "temperature": 0.2, "tags": ["a", null]}))
      {:ok, %{"model" => "gpt-4o", "tags" => ["a", nil], "temperature" => 0.2}}

      iex> CouncilEx.JSON.encode(%{"role" => "user", content: "héllo", n: [1, 2.5, true]})
      {:ok, ~s({"content":"héllo","n":[1,2.5,true],"role":"user"})}

      iex> CouncilEx.JSON.decode("[1, 2")
      {:error, {:invalid_json, 4}}

  ## Decoding

  | JSON                | Elixir                                       |
  |---------------------|----------------------------------------------|
  | object              | map with binary keys (never atoms)           |
  | array               | list                                         |
  | string              | binary (UTF-8)                               |
  | `true`/`false`      | `true`/`false`                               |
  | `null`              | `nil`                                        |
  | number              | integer or float, see below                  |

  Numbers: a number written without fraction or exponent whose magnitude is
  at most 2^53 becomes an integer; every other number becomes a float. So
  `1` decodes to `1`, but `1.0` and `1e2` decode to `1.0` and `100.0`, and
  integers beyond 2^53 (such as `12345678901234567890`) decode to the
  nearest float. Numbers too large for a float (`1e400`) are an error;
  numbers too small for one (`1e-400`) decode as `0.0`.

  Duplicate keys in an object: the last one wins.

  The input must be strict JSON (RFC 8259): valid UTF-8 throughout, one
  value with nothing but whitespace after it, no raw control characters in
  strings, no leading zeros, and `\\u` escapes that form valid code points
  (a lone surrogate such as `"\\ud800"` is an error). A leading UTF-8 byte
  order mark is skipped.

  ## Encoding

  | Elixir                               | JSON                               |
  |--------------------------------------|------------------------------------|
  | map                                  | object                             |
  | list                                 | array                              |
  | binary (valid UTF-8)                 | string                             |
  | integer (any size)                   | number, exact                      |
  | float                                | number, shortest form that reads back as the same float |
  | `true`/`false`/`nil`                 | `true`/`false`/`null`              |
  | any other atom                       | string of its name                 |

  Map keys must be binaries or atoms (atoms become their names). The order
  of keys in the output is the map's iteration order. Output is compact and
  non-ASCII characters are written as UTF-8, not escaped. Floats always
  carry a fraction or an exponent (`1.0`, `0.1`, `1e+300`), so they decode
  back as floats.

  Not encodable: tuples, pids, ports, references, functions, improper
  lists, bitstrings that are not binaries, and structs (turn a struct into
  a plain map first; encoding it as-is would leak its `__struct__` key).

  ## Errors

  Decoding returns `{:error, reason}` with one of:

    * `:invalid_utf8` - the input is not valid UTF-8.
    * `{:invalid_json, offset}` - malformed JSON; `offset` is the 0-based
      byte offset where the problem was detected. Empty input is
      `{:invalid_json, 0}`.
    * `{:too_deep, max_depth}` - arrays and objects nest deeper than
      `:max_depth`.
    * `{:number_out_of_range, offset}` - a number too large for a float.
    * `:out_of_memory`

  Encoding returns `{:error, reason}` with one of:

    * `{:unsupported_term, term}` - a value that has no JSON form.
    * `{:invalid_string, binary}` - a binary that is not valid UTF-8.
    * `{:invalid_key, key}` - a map key that is not a binary or an atom.
    * `{:duplicate_key, name}` - a map holding both the binary `name` and
      the atom of that name as keys: the object would hold it twice.
    * `{:too_deep, max_depth}` - lists and maps nest deeper than
      `:max_depth`.
    * `:out_of_memory`

  `decode!/2` and `encode!/2` raise `CouncilEx.JSON.DecodeError` and
  `CouncilEx.JSON.EncodeError`, which carry the same reasons.

  ## Options

    * `:max_depth` - the deepest nesting of arrays/objects (lists/maps)
      accepted; `[]` is depth 1, `[[]]` depth 2. Defaults to `256`; at most
      `1000`, which is cJSON's own nesting limit. The limit is checked
      before cJSON parses anything, so hostile input such as 100 000 `[`
      is rejected without deep recursion.

  ## Scheduling

  A NIF call on a normal scheduler stays around 0.3 ms at most:

    * Decoding runs on the calling scheduler for inputs of up to 16 KB with
      up to about 1500 values (counted cheaply as `[`, `{` and `,` outside
      strings, plus two per `:`); anything bigger is decoded on a dirty CPU
      scheduler.
    * Encoding starts on the calling scheduler with a work budget (roughly
      3000 values, 200 non-integral floats or 200 KB of string data). A term
      that needs more is encoded again from the start on a dirty CPU
      scheduler.

  Very large integers are converted to decimal in quadratic time.
  """

  alias CouncilEx.Native

  @default_max_depth CouncilEx.Enums.limit(:json_max_depth)
  @max_depth_limit 1000

  @typedoc "Options accepted by `decode/2` and `encode/2`."
  @type option :: {:max_depth, pos_integer()}

  @typedoc "A decoded JSON value."
  @type json ::
          nil
          | boolean()
          | number()
          | String.t()
          | [json()]
          | %{optional(String.t()) => json()}

  @typedoc "Why `decode/2` failed."
  @type decode_error_reason ::
          :invalid_utf8
          | {:invalid_json, non_neg_integer()}
          | {:too_deep, pos_integer()}
          | {:number_out_of_range, non_neg_integer()}
          | :out_of_memory

  @typedoc "Why `encode/2` failed."
  @type encode_error_reason ::
          {:unsupported_term, term()}
          | {:invalid_string, binary()}
          | {:invalid_key, term()}
          | {:duplicate_key, binary()}
          | {:too_deep, pos_integer()}
          | :out_of_memory

  defmodule DecodeError do
    @moduledoc """
    Raised by `CouncilEx.JSON.decode!/2`. `:reason` is one of the reasons
    `CouncilEx.JSON.decode/2` returns.
    """
    defexception [:reason]

    @type t :: %__MODULE__{reason: CouncilEx.JSON.decode_error_reason()}

    @impl true
    def message(%__MODULE__{reason: reason}), do: format(reason)

    defp format(:invalid_utf8), do: "invalid JSON: the input is not valid UTF-8"
    defp format({:invalid_json, at}), do: "invalid JSON at byte offset #{at}"

    defp format({:too_deep, max}),
      do: "cannot decode JSON: arrays and objects nest deeper than max_depth (#{max})"

    defp format({:number_out_of_range, at}),
      do: "cannot decode JSON: the number at byte offset #{at} is too large for a float"

    defp format(:out_of_memory), do: "out of memory while decoding JSON"
    defp format(other), do: "cannot decode JSON: #{inspect(other)}"
  end

  defmodule EncodeError do
    @moduledoc """
    Raised by `CouncilEx.JSON.encode!/2`. `:reason` is one of the reasons
    `CouncilEx.JSON.encode/2` returns.
    """
    defexception [:reason]

    @type t :: %__MODULE__{reason: CouncilEx.JSON.encode_error_reason()}

    @inspect_opts [limit: 10, printable_limit: 60]

    @impl true
    def message(%__MODULE__{reason: reason}), do: format(reason)

    defp format({:unsupported_term, term}),
      do: "cannot encode #{inspect(term, @inspect_opts)} as JSON: unsupported term"

    defp format({:invalid_string, bin}),
      do: "cannot encode #{inspect(bin, @inspect_opts)} as a JSON string: not valid UTF-8"

    defp format({:invalid_key, key}),
      do:
        "cannot encode map key #{inspect(key, @inspect_opts)} as JSON: " <>
          "keys must be binaries or atoms"

    defp format({:duplicate_key, key}),
      do:
        "cannot encode as JSON: the key #{inspect(key, @inspect_opts)} appears twice " <>
          "in one map (as a string and as an atom)"

    defp format({:too_deep, max}),
      do: "cannot encode as JSON: lists and maps nest deeper than max_depth (#{max})"

    defp format(:out_of_memory), do: "out of memory while encoding JSON"
    defp format(other), do: "cannot encode as JSON: #{inspect(other, @inspect_opts)}"
  end

  @doc """
  Decodes a JSON document.

  Returns `{:ok, value}` or `{:error, reason}`; see "Errors" in the module
  doc for the reasons. Raises `ArgumentError` if `json` is not a binary or
  an option is invalid.

  ## Options

    * `:max_depth` - deepest nesting accepted, 1 to 1000 (default 256).

  ## Examples

      iex> CouncilEx.JSON.decode(~s({"a": [1, 2.5, "x"], "b": false}))
      {:ok, %{"a" => [1, 2.5, "x"], "b" => false}}

      iex> CouncilEx.JSON.decode("[[1]]", max_depth: 1)
      {:error, {:too_deep, 1}}

      iex> CouncilEx.JSON.decode(~s({"a": 1} x))
      {:error, {:invalid_json, 9}}

  """
  @spec decode(binary(), [option()]) :: {:ok, json()} | {:error, decode_error_reason()}
  def decode(json, opts \\ [])

  def decode(json, opts) when is_binary(json) do
    Native.json_decode(json, max_depth!(opts, "decode"))
  end

  def decode(other, _opts) do
    raise ArgumentError,
          "CouncilEx.JSON.decode/2 expects a binary, got: #{inspect(other, limit: 10)}"
  end

  @doc """
  Decodes a JSON document, raising `CouncilEx.JSON.DecodeError` on failure.

  Takes the same options as `decode/2`.

  ## Examples

      iex> CouncilEx.JSON.decode!("[true, null]")
      [true, nil]

      iex> CouncilEx.JSON.decode!("{")
      ** (CouncilEx.JSON.DecodeError) invalid JSON at byte offset 0

  """
  @spec decode!(binary(), [option()]) :: json()
  def decode!(json, opts \\ []) do
    case decode(json, opts) do
      {:ok, value} -> value
      {:error, reason} -> raise DecodeError, reason: reason
    end
  end

  @doc """
  Encodes a term as compact JSON.

  Returns `{:ok, binary}` or `{:error, reason}`; see "Errors" in the module
  doc for the reasons. Raises `ArgumentError` if an option is invalid.

  ## Options

    * `:max_depth` - deepest nesting of lists and maps, 1 to 1000
      (default 256).

  ## Examples

      iex> CouncilEx.JSON.encode(%{"a" => [1, 2.0, nil], "b" => "ü"})
      {:ok, ~s({"a":[1,2.0,null],"b":"ü"})}

      iex> CouncilEx.JSON.encode(2 ** 70)
      {:ok, "1180591620717411303424"}

      iex> CouncilEx.JSON.encode(%{"t" => {1, 2}})
      {:error, {:unsupported_term, {1, 2}}}

  """
  @spec encode(term(), [option()]) :: {:ok, binary()} | {:error, encode_error_reason()}
  def encode(term, opts \\ []) do
    Native.json_encode(term, max_depth!(opts, "encode"))
  end

  @doc """
  Encodes a term as compact JSON, raising `CouncilEx.JSON.EncodeError` on
  failure.

  Takes the same options as `encode/2`.

  ## Examples

      iex> CouncilEx.JSON.encode!([1, "two", :three])
      ~s([1,"two","three"])

      iex> CouncilEx.JSON.encode!(%{1 => "one"})
      ** (CouncilEx.JSON.EncodeError) cannot encode map key 1 as JSON: keys must be binaries or atoms

  """
  @spec encode!(term(), [option()]) :: binary()
  def encode!(term, opts \\ []) do
    case encode(term, opts) do
      {:ok, json} -> json
      {:error, reason} -> raise EncodeError, reason: reason
    end
  end

  defp max_depth!(opts, fun) do
    unless is_list(opts) do
      raise ArgumentError,
            "CouncilEx.JSON.#{fun}/2 expects a keyword list of options, got: #{inspect(opts)}"
    end

    case Keyword.validate!(opts, max_depth: @default_max_depth) |> Keyword.fetch!(:max_depth) do
      depth when is_integer(depth) and depth in 1..@max_depth_limit ->
        depth

      other ->
        raise ArgumentError,
              "expected :max_depth to be an integer in 1..#{@max_depth_limit}, got: #{inspect(other)}"
    end
  end
end
