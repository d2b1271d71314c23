defmodule CouncilEx.JSONTest do
  use ExUnit.Case, async: true

  alias CouncilEx.JSON
  alias CouncilEx.JSON.{DecodeError, EncodeError}

  doctest CouncilEx.JSON

  defp roundtrip(term, opts \\ []) do
    {:ok, json} = JSON.encode(term, opts)
    {:ok, decoded} = JSON.decode(json, opts)
    decoded
  end

  defp nest(0, inner), do: inner
  defp nest(n, inner), do: [nest(n - 1, inner)]

  defp nest_map(0, inner), do: inner
  defp nest_map(n, inner), do: %{"k" => nest_map(n - 1, inner)}

  describe "decode/2 values" do
    test "objects, arrays, strings and literals" do
      json = ~s({"a": [true, false, null, "s", {}], "b": {"c": []}, "": ""})

      assert JSON.decode(json) ==
               {:ok, %{"a" => [true, false, nil, "s", %{}], "b" => %{"c" => []}, "" => ""}}
    end

    test "top-level scalars and surrounding whitespace" do
      assert JSON.decode("1") == {:ok, 1}
      assert JSON.decode(~s( \t\r\n"x"\n)) == {:ok, "x"}
      assert JSON.decode("null") == {:ok, nil}
      assert JSON.decode("true") == {:ok, true}
    end

    test "integers up to 2^53 written without fraction or exponent become integers" do
      assert JSON.decode("[0, -0, 42, -42, 9007199254740992, -9007199254740992]") ==
               {:ok, [0, 0, 42, -42, 9_007_199_254_740_992, -9_007_199_254_740_992]}
    end

    test "fractions, exponents and integers beyond 2^53 become floats" do
      {:ok, [a, b, c, d, e, f]} =
        JSON.decode("[1.0, 1e2, 1E-2, -0.0, 9007199254740993, 12345678901234567890123]")

      assert a === 1.0
      assert b === 100.0
      assert c === 0.01
      assert d === -0.0
      assert e === 9_007_199_254_740_992.0
      assert f === 1.2345678901234568e22
    end

    test "numbers beyond the float range are an error with their offset" do
      assert JSON.decode("1e400") == {:error, {:number_out_of_range, 0}}

      assert JSON.decode(~s({"a": "1e999", "b": [1, -1e999]})) ==
               {:error, {:number_out_of_range, 24}}
    end

    test "duplicate keys: the last one wins" do
      assert JSON.decode(~s({"a": 1, "b": 2, "a": 3})) == {:ok, %{"a" => 3, "b" => 2}}
    end

    test "duplicate keys in objects with more than 32 keys build a valid map" do
      pairs = Enum.map_join(1..40, ",", &~s("k#{&1}": #{&1}))
      {:ok, map} = JSON.decode("{" <> pairs <> ~s(, "k7": "last", "k40": null}))

      expected = 1..40 |> Map.new(&{"k#{&1}", &1}) |> Map.merge(%{"k7" => "last", "k40" => nil})
      assert map == expected
      assert map_size(map) == 40
      assert map["k7"] == "last"
      assert :erlang.binary_to_term(:erlang.term_to_binary(map)) == expected
    end

    test "large objects without duplicates" do
      expected = Map.new(1..5000, &{"key-#{&1}", &1})
      assert roundtrip(expected) == expected
    end

    test "a byte order mark is skipped" do
      assert JSON.decode("\uFEFF[1]") == {:ok, [1]}
      assert JSON.decode("\uFEFF1") == {:ok, 1}
      assert JSON.decode("\uFEFF") == {:error, {:invalid_json, 3}}
      assert {:error, {:invalid_json, 3}} = JSON.decode("\uFEFF\uFEFF1")
    end
  end

  describe "decode/2 unicode" do
    test "raw UTF-8, including emoji, passes through" do
      assert JSON.decode(~s(["héllo", "日本語", "😀", {"ключ": "значение"}])) ==
               {:ok, ["héllo", "日本語", "😀", %{"ключ" => "значение"}]}
    end

    test "\\u escapes, including surrogate pairs" do
      assert JSON.decode(~S(["\u00e9", "\u65E5", "\ud83d\ude00", "\uD834\uDD1E"])) ==
               {:ok, ["é", "日", "😀", "𝄞"]}
    end

    test "simple escapes" do
      assert JSON.decode(~S(["\"\\\/\b\f\n\r\t"])) == {:ok, ["\"\\/\b\f\n\r\t"]}
    end

    test "\\u0000 is kept, in values and keys" do
      assert JSON.decode(~S({"a\u0000b": ["x\u0000", "\u0000\ud83d\ude00\n"]})) ==
               {:ok, %{"a\0b" => ["x\0", "\0😀\n"]}}
    end

    test "lone or mismatched surrogate escapes are errors" do
      for bad <- [~S("\ud800"), ~S("\udc00"), ~S("\ud800\u0041"), ~S("\ud800x"), ~S(["\ud83d"])] do
        assert {:error, {:invalid_json, _}} = JSON.decode(bad), bad
      end
    end

    test "malformed escapes are errors" do
      for bad <- [~S("\x"), ~S("\u12"), ~S("\uZZZZ"), ~S("\u00G0"), ~S("\'")] do
        assert {:error, {:invalid_json, 1}} = JSON.decode(bad), bad
      end
    end

    test "invalid UTF-8 anywhere in the input" do
      for bad <- [
            <<0xFF>>,
            ~s(["a", ") <> <<0xC3>> <> ~s("]),
            # overlong "/"
            ~s([") <> <<0xC0, 0xAF>> <> ~s("]),
            # UTF-8 encoded surrogate U+D800
            ~s([") <> <<0xED, 0xA0, 0x80>> <> ~s("]),
            # above U+10FFFF
            ~s([") <> <<0xF4, 0x90, 0x80, 0x80>> <> ~s("]),
            # truncated 3-byte sequence at the end
            ~s("ab) <> <<0xE2, 0x82>>
          ] do
        assert JSON.decode(bad) == {:error, :invalid_utf8}, inspect(bad)
      end
    end
  end

  describe "decode/2 keys" do
    test "keys are binaries, never atoms" do
      assert JSON.decode(~s({"ok": 1, "error": 2})) == {:ok, %{"ok" => 1, "error" => 2}}
    end

    test "decoding 1000 unknown keys creates no atoms" do
      # Other async tests may create atoms at the same moment, so a leak is a
      # change seen on every attempt; each attempt uses fresh keys.
      deltas =
        Enum.reduce_while(1..5, [], fn _, deltas ->
          keys = for _ <- 1..1000, do: "k_" <> Base.encode32(:crypto.strong_rand_bytes(10))
          json = "{" <> Enum.map_join(keys, ",", &~s("#{&1}": 1)) <> "}"

          before = :erlang.system_info(:atom_count)
          {:ok, map} = JSON.decode(json)
          delta = :erlang.system_info(:atom_count) - before

          assert map_size(map) == 1000

          for key <- keys do
            assert_raise ArgumentError, fn -> String.to_existing_atom(key) end
          end

          if delta == 0, do: {:halt, [0 | deltas]}, else: {:cont, [delta | deltas]}
        end)

      assert hd(deltas) == 0, "atom count grew on every attempt: #{inspect(deltas)}"
    end
  end

  describe "decode/2 malformed input" do
    test "empty and whitespace-only input" do
      assert JSON.decode("") == {:error, {:invalid_json, 0}}
      assert {:error, {:invalid_json, _}} = JSON.decode("   ")
      assert {:error, {:invalid_json, _}} = JSON.decode("\n")
    end

    test "trailing garbage after the value" do
      assert JSON.decode("[1] x") == {:error, {:invalid_json, 4}}
      assert JSON.decode("[1]]") == {:error, {:invalid_json, 3}}
      assert JSON.decode("{} {}") == {:error, {:invalid_json, 3}}
      assert JSON.decode("1 2") == {:error, {:invalid_json, 2}}
      assert JSON.decode("truex") == {:error, {:invalid_json, 4}}
      assert JSON.decode("nullnull") == {:error, {:invalid_json, 4}}
      assert JSON.decode("[1]\0") == {:error, {:invalid_json, 3}}
      assert JSON.decode("[1] \n\t\r ") == {:ok, [1]}
    end

    test "syntax errors report a byte offset" do
      assert JSON.decode(~s({"a" 1})) == {:error, {:invalid_json, 5}}
      assert JSON.decode("[01]") == {:error, {:invalid_json, 2}}
      assert JSON.decode("[1, }") == {:error, {:invalid_json, 4}}

      for bad <- [
            "[1,]",
            "{a: 1}",
            ~s({"a": 1,}),
            "['a']",
            "[1.]",
            "[.5]",
            "[-]",
            "[+1]",
            "[1e]",
            "[1e+]",
            "[0x10]",
            "NaN",
            "Infinity",
            "-Infinity",
            "[undefined]",
            "[1 2]",
            "/* c */ 1",
            "[\"a\tb\"]",
            "[\"a\nb\"]",
            "[\"a\0b\"]",
            "\v1",
            "\f[]",
            "[1]\u00a0",
            "{\"a\":1}}",
            "[[]",
            ~s("abc)
          ] do
        assert {:error, {:invalid_json, offset}} = JSON.decode(bad), inspect(bad)
        assert offset in 0..byte_size(bad), inspect(bad)
      end
    end

    test "long numbers" do
      assert JSON.decode("0.1000000000000000055511151231257827021181583404541015625") ==
               {:ok, 0.1}

      assert JSON.decode("[0." <> String.duplicate("1", 200) <> "]") ==
               {:ok, [0.1111111111111111]}

      assert JSON.decode("1" <> String.duplicate("0", 300)) == {:ok, 1.0e300}
      assert JSON.decode("1" <> String.duplicate("0", 400)) == {:error, {:number_out_of_range, 0}}
    end

    test "every truncation of a document is an error" do
      doc =
        ~s({"a": [1, -2.5e3, "x\\u00e9\\ud83d\\ude00 日本 😀", true, false, null],) <>
          ~s( "b": {"c": {}, "d": [[], {"e": "\\""}]}})

      assert {:ok, _} = JSON.decode(doc)

      for len <- 0..(byte_size(doc) - 1) do
        prefix = binary_part(doc, 0, len)
        assert {:error, _} = JSON.decode(prefix), inspect(prefix)
      end
    end

    test "truncations of a number are errors unless they are numbers themselves" do
      doc = "-12.5e+3"

      valid =
        for len <- 0..byte_size(doc),
            prefix = binary_part(doc, 0, len),
            match?({:ok, _}, JSON.decode(prefix)),
            do: prefix

      assert valid == ["-1", "-12", "-12.5", "-12.5e+3"]
    end

    test "mutated documents never crash, and what decodes re-encodes to the same value" do
      seed =
        ~s({"a": [1, -2.5e3, "x\\u00e9\\ud83d\\ude00 日本", true, false, null],) <>
          ~s( "b": {"c": {}, "d": [[], {"e": "\\"", "f": 0.1}]}, "g": 12345678901234567890})

      alphabet = ~c'[]{}",:\\/-+.eE0123456789 \ntrufalsn' ++ [0, 0x7F, 0xC3, 0xA9, 0xFF]

      for _ <- 1..3000 do
        doc = mutate(seed, :rand.uniform(4), alphabet)

        case JSON.decode(doc, max_depth: 8) do
          {:ok, value} -> assert JSON.decode(JSON.encode!(value), max_depth: 8) == {:ok, value}
          {:error, :invalid_utf8} -> refute String.valid?(doc)
          {:error, {:invalid_json, at}} -> assert at <= byte_size(doc)
          {:error, {:too_deep, 8}} -> :ok
          {:error, {:number_out_of_range, at}} -> assert at < byte_size(doc)
        end
      end
    end

    test "non-binary input raises ArgumentError" do
      for bad <- [123, nil, ~c"[1]", ["[1]"], %{}, <<1::3>>] do
        assert_raise ArgumentError, ~r/expects a binary/, fn -> JSON.decode(bad) end
        assert_raise ArgumentError, fn -> JSON.decode!(bad) end
      end
    end
  end

  describe "decode/2 error offsets" do
    # Offsets come from the strict reader: the byte where the problem is,
    # except that running out of input is reported at the last byte.
    test "inside strings: the offending byte" do
      assert JSON.decode(~S(["ab\x"])) == {:error, {:invalid_json, 4}}
      assert JSON.decode(~s(["a\tb"])) == {:error, {:invalid_json, 3}}
      assert JSON.decode(~S(["x\ud800"])) == {:error, {:invalid_json, 3}}
      assert JSON.decode(~S(["\u12"])) == {:error, {:invalid_json, 2}}
      assert JSON.decode(~s({"k\x01": 1})) == {:error, {:invalid_json, 3}}
    end

    test "running out of input: the last byte" do
      assert JSON.decode(~s(["abc)) == {:error, {:invalid_json, 4}}
      assert JSON.decode(~s({"a")) == {:error, {:invalid_json, 3}}
      assert JSON.decode("[1e") == {:error, {:invalid_json, 2}}
      assert JSON.decode("-") == {:error, {:invalid_json, 0}}
      assert JSON.decode("  ") == {:error, {:invalid_json, 1}}
    end

    test "keys, separators and numbers" do
      assert JSON.decode("{a: 1}") == {:error, {:invalid_json, 1}}
      assert JSON.decode(~s({"a":1,})) == {:error, {:invalid_json, 7}}
      assert JSON.decode(~s({"a":1 "b":2})) == {:error, {:invalid_json, 7}}
      assert JSON.decode("[1 2]") == {:error, {:invalid_json, 3}}
      assert JSON.decode("[1.]") == {:error, {:invalid_json, 3}}
      assert JSON.decode("[-]") == {:error, {:invalid_json, 2}}
      assert JSON.decode("[1,]") == {:error, {:invalid_json, 3}}
    end

    test "the first problem in document order wins" do
      assert JSON.decode("[}" <> String.duplicate("[", 300)) == {:error, {:invalid_json, 1}}
      assert JSON.decode("[1," <> String.duplicate("[", 300)) == {:error, {:too_deep, 256}}
      assert JSON.decode("9:01") == {:error, {:invalid_json, 1}}
      assert JSON.decode("[1e999, 01]") == {:error, {:invalid_json, 9}}
    end

    test "after a byte order mark, offsets still count from the input's start" do
      assert JSON.decode("\uFEFF[1,]") == {:error, {:invalid_json, 6}}
      assert JSON.decode("\uFEFF[1e999]") == {:error, {:number_out_of_range, 4}}
      assert JSON.decode("\uFEFF[1") == {:error, {:invalid_json, 4}}
    end

    test "offsets stay inside the input" do
      seed = ~s({"a": [1, -2.5e3, "x\\u00e9 日本", true, null], "b": {"c": [{}]}})
      alphabet = ~c'[]{}",:\\/-+.eE0123456789 \ntrufalsn' ++ [0, 0xC3, 0xA9, 0xEF, 0xBB, 0xBF]

      for _ <- 1..2000 do
        doc = mutate(seed, :rand.uniform(3), alphabet)

        case JSON.decode(doc) do
          {:error, {:invalid_json, at}} when doc not in ["", "\uFEFF"] ->
            assert at < byte_size(doc), inspect(doc)

          _ ->
            :ok
        end
      end
    end
  end

  describe "decode/2 \\u0000 and big objects" do
    test "\\u0000 keys in objects of more than 32 keys, duplicates included" do
      pairs = Enum.map_join(1..40, ",", &~s("k#{&1}": #{&1}))
      json = "{" <> pairs <> ~S(, "a\u0000": 1, "k3": "x", "a\u0000": "\u0000"}) <> ""
      {:ok, map} = JSON.decode(json)

      assert map_size(map) == 41
      assert map["a\0"] == "\0"
      assert map["k3"] == "x"
      assert :erlang.binary_to_term(:erlang.term_to_binary(map)) == map
    end

    test "a \\u0000 string among many strings and numbers keeps its place" do
      list = for i <- 1..3000, do: if(rem(i, 7) == 0, do: "n\0#{i}", else: i)
      {:ok, json} = JSON.encode(list)
      assert JSON.decode(json) == {:ok, list}
    end
  end

  describe ":max_depth" do
    test "decode: exactly max_depth passes, one more fails" do
      assert JSON.decode("[[[]]]", max_depth: 3) == {:ok, [[[]]]}
      assert JSON.decode("[[[[]]]]", max_depth: 3) == {:error, {:too_deep, 3}}
      assert JSON.decode(~s({"a": [{"b": 1}]}), max_depth: 3) == {:ok, %{"a" => [%{"b" => 1}]}}
      assert JSON.decode(~s({"a": [{"b": []}]}), max_depth: 3) == {:error, {:too_deep, 3}}
      assert JSON.decode("1", max_depth: 1) == {:ok, 1}
    end

    test "decode: the default is 256" do
      at_limit = String.duplicate("[", 256) <> String.duplicate("]", 256)
      assert {:ok, _} = JSON.decode(at_limit)
      assert JSON.decode("[" <> at_limit <> "]") == {:error, {:too_deep, 256}}
    end

    test "decode: brackets inside strings do not count" do
      assert JSON.decode(~S(["[[[{{{", "\"[[["]), max_depth: 1) == {:ok, ["[[[{{{", "\"[[["]}
    end

    test "decode: 1000 levels work, on the dirty path too" do
      deep = String.duplicate("[", 1000) <> String.duplicate("]", 1000)
      assert {:ok, term} = JSON.decode(deep, max_depth: 1000)
      assert term == nest(999, [])

      padded =
        String.duplicate("[", 1000) <>
          String.duplicate(" ", 40_000) <> String.duplicate("]", 1000)

      assert {:ok, ^term} = JSON.decode(padded, max_depth: 1000)
      assert JSON.decode("[" <> deep <> "]", max_depth: 1000) == {:error, {:too_deep, 1000}}
    end

    test "decode: 100_000 nested brackets are rejected without crashing" do
      hostile = String.duplicate("[", 100_000)
      assert JSON.decode(hostile) == {:error, {:too_deep, 256}}
      assert JSON.decode(hostile, max_depth: 1000) == {:error, {:too_deep, 1000}}

      closed = hostile <> String.duplicate("]", 100_000)
      assert JSON.decode(closed, max_depth: 1000) == {:error, {:too_deep, 1000}}
      assert JSON.decode(String.duplicate(~s({"a":), 100_000)) == {:error, {:too_deep, 256}}
    end

    test "encode: exactly max_depth passes, one more fails" do
      assert JSON.encode(nest(2, []), max_depth: 3) == {:ok, "[[[]]]"}
      assert JSON.encode(nest(3, []), max_depth: 3) == {:error, {:too_deep, 3}}
      assert JSON.encode(nest_map(2, %{}), max_depth: 3) == {:ok, ~s({"k":{"k":{}}})}
      assert JSON.encode(nest_map(3, %{}), max_depth: 3) == {:error, {:too_deep, 3}}
      assert JSON.encode(%{"a" => [%{"b" => [1]}]}, max_depth: 3) == {:error, {:too_deep, 3}}
      assert JSON.encode("scalar", max_depth: 1) == {:ok, ~s("scalar")}
      assert {:ok, _} = JSON.encode(nest(255, []))
      assert JSON.encode(nest(256, [])) == {:error, {:too_deep, 256}}
    end

    test "encode: 1000 levels work, on the dirty path too" do
      assert {:ok, json} = JSON.encode(nest(999, []), max_depth: 1000)
      assert byte_size(json) == 2000

      big = String.duplicate("x", 400_000)
      assert {:ok, json} = JSON.encode(nest(999, big), max_depth: 1000)
      assert JSON.decode(json, max_depth: 1000) == {:ok, nest(999, big)}
      assert JSON.encode(nest(1001, big), max_depth: 1000) == {:error, {:too_deep, 1000}}
      assert JSON.encode(nest(1000, []), max_depth: 1000) == {:error, {:too_deep, 1000}}
    end

    test "invalid options raise ArgumentError" do
      for bad <- [0, -1, 1001, 2.0, "10", nil] do
        assert_raise ArgumentError, ~r/:max_depth/, fn -> JSON.decode("1", max_depth: bad) end
        assert_raise ArgumentError, ~r/:max_depth/, fn -> JSON.encode(1, max_depth: bad) end
      end

      assert_raise ArgumentError, ~r/unknown keys \[:depth\]/, fn ->
        JSON.decode("1", depth: 3)
      end

      assert_raise ArgumentError, fn -> JSON.encode(1, :nope) end
    end
  end

  describe "encode/2" do
    test "maps, lists, strings and literals, compact" do
      assert JSON.encode(%{"a" => [1, "two", nil, true, false], "b" => %{}}) ==
               {:ok, ~s({"a":[1,"two",null,true,false],"b":{}})}

      assert JSON.encode([]) == {:ok, "[]"}
      assert JSON.encode(%{}) == {:ok, "{}"}
      assert JSON.encode("") == {:ok, ~s("")}
    end

    test "atoms: keys and values become their names" do
      assert JSON.encode(%{role: :assistant}) == {:ok, ~s({"role":"assistant"})}

      assert JSON.encode([:café, :日本語, :"with \"quote\""]) ==
               {:ok, ~s(["café","日本語","with \\"quote\\""])}

      assert JSON.encode(%{nil: 1}) == {:ok, ~s({"nil":1})}
      assert JSON.encode(%{:"😀" => 1}) == {:ok, ~s({"😀":1})}
    end

    test "a key given both as an atom and as a string is an error, not written twice" do
      assert JSON.encode(%{"a" => 1, a: 2}) == {:error, {:duplicate_key, "a"}}
      assert JSON.encode([%{"x" => %{:"😀" => 1, "😀" => 2}}]) == {:error, {:duplicate_key, "😀"}}
      assert JSON.encode(%{nil => 1, "nil" => 2}) == {:error, {:duplicate_key, "nil"}}
      # Past 32 keys a map is a hash map: checked the same way.
      big = Map.new(1..40, &{"k#{&1}", &1})
      assert JSON.encode(Map.put(big, :k7, 0)) == {:error, {:duplicate_key, "k7"}}
      assert {:ok, _} = JSON.encode(Map.put(big, :other, 0))

      assert_raise JSON.EncodeError, ~r/the key "a" appears twice in one map/, fn ->
        JSON.encode!(%{"a" => 1, a: 2})
      end
    end

    test "string escaping" do
      assert JSON.encode("\"\\/\b\f\n\r\t\0\x01\x1f\x7f") ==
               {:ok, ~S("\"\\/\b\f\n\r\t\u0000\u0001\u001f) <> "\x7f\""}

      assert JSON.encode("héllo 日本 😀") == {:ok, ~s("héllo 日本 😀")}
    end

    test "every ASCII character round-trips, in values and keys" do
      all = for c <- 0..127, into: "", do: <<c>>
      assert roundtrip(%{all => all}) == %{all => all}
      assert roundtrip(for(c <- 0..127, do: <<c>>)) == for(c <- 0..127, do: <<c>>)
    end

    test "unicode round-trips" do
      term = %{"ключ" => ["😀", "𝄞", "\u{10FFFF}", "\u{FEFF}x", "a\u2028b"], "日本" => "語"}
      assert roundtrip(term) == term
    end

    test "integers are exact at any size" do
      for i <- [
            0,
            -1,
            2 ** 53,
            2 ** 53 + 1,
            2 ** 63 - 1,
            -(2 ** 63),
            2 ** 63,
            2 ** 64 - 1,
            2 ** 64,
            -(2 ** 64),
            2 ** 200 + 12345,
            -(2 ** 1000) + 1,
            10 ** 300,
            123_456_789_012_345_678_901_234_567_890
          ] do
        assert JSON.encode(i) == {:ok, Integer.to_string(i)}
      end

      assert JSON.encode(3 ** 5000) == {:ok, Integer.to_string(3 ** 5000)}
    end

    test "integers within 2^53 round-trip as integers, bigger ones as floats" do
      ints = [0, 1, -1, 2 ** 53, -(2 ** 53), 123_456_789]
      assert roundtrip(ints) == ints
      assert roundtrip(2 ** 53 + 1) === 9_007_199_254_740_992.0
      assert roundtrip(2 ** 70) === 1.1805916207174113e21
    end

    test "U+2028 and U+2029 are written as they are" do
      assert JSON.encode("a\u2028b\u2029") == {:ok, "\"a\u2028b\u2029\""}
    end

    test "integral floats are plain digits up to 2^53, then exponents" do
      assert JSON.encode(1.0e15) == {:ok, "1000000000000000.0"}
      assert JSON.encode(-4.0e15) == {:ok, "-4000000000000000.0"}
      assert JSON.encode(1.0e16) == {:ok, "1e+16"}
      assert JSON.encode(18_014_398_509_481_984.0) == {:ok, "18014398509481984.0"}
    end

    test "floats use the shortest form that reads back exactly" do
      for {float, text} <- [
            {0.1, "0.1"},
            {1.0, "1.0"},
            {-0.0, "-0.0"},
            {0.0, "0.0"},
            {100.0, "100.0"},
            {-2.5, "-2.5"},
            {1.0e300, "1e+300"},
            {1.0e-7, "1e-07"},
            {0.1 + 0.2, "0.30000000000000004"},
            {1 / 3, "0.3333333333333333"},
            {5.0e-324, "5e-324"},
            {2.2250738585072014e-308, "2.2250738585072014e-308"},
            {1.7976931348623157e308, "1.7976931348623157e+308"},
            {9_007_199_254_740_992.0, "9007199254740992.0"},
            {123_456_789.0, "123456789.0"}
          ] do
        assert JSON.encode(float) == {:ok, text}
        assert JSON.decode(text) == {:ok, float}
      end
    end

    test "floats round-trip exactly" do
      floats =
        [0.1, 1.0e300, -0.0, 1.0, -1.5, 5.0e-324, 2.0 ** 60, 1.0e22, 1.0e23] ++
          for(_ <- 1..2000, do: (:rand.uniform() - 0.5) * :math.pow(10, :rand.uniform(600) - 300)) ++
          for(
            _ <- 1..2000,
            <<f::float-64>> <- [:crypto.strong_rand_bytes(8)],
            do: f
          )

      decoded = roundtrip(floats)
      assert length(decoded) == length(floats)

      for {a, b} <- Enum.zip(floats, decoded) do
        assert is_float(b)
        assert <<a::float>> == <<b::float>>, "#{inspect(a)} came back as #{inspect(b)}"
      end
    end

    test "nested structures round-trip" do
      term = %{
        "model" => "gpt-4o",
        "messages" => [
          %{"role" => "system", "content" => "Be brief.\nReally."},
          %{"role" => "user", "content" => [%{"type" => "text", "text" => "hi 😀"}]}
        ],
        "temperature" => 0.7,
        "max_tokens" => 1024,
        "stop" => nil,
        "stream" => false,
        "meta" => %{"a" => [[], [[]], %{}, [%{"b" => [1, 2.5, "c"]}]]}
      }

      assert roundtrip(term) == term
      assert {:ok, _} = JSON.encode(Map.new(1..100, &{"k#{&1}", [&1, %{"v" => &1 / 2}]}))
    end

    test "unsupported terms" do
      ref = make_ref()
      fun = fn -> :ok end
      port = hd(Port.list())

      for term <- [{1, 2}, {}, self(), ref, fun, port, [1 | 2], <<1::3>>, ~D[2024-01-01]] do
        assert JSON.encode(term) == {:error, {:unsupported_term, term}}, inspect(term)
      end

      assert JSON.encode(%{"a" => [1, {:ok, 2}]}) == {:error, {:unsupported_term, {:ok, 2}}}
      assert JSON.encode(a: 1) == {:error, {:unsupported_term, {:a, 1}}}
      assert JSON.encode(["x", [1, 2 | 3]]) == {:error, {:unsupported_term, [1, 2 | 3]}}

      assert JSON.encode(%{"u" => URI.parse("http://x")}) ==
               {:error, {:unsupported_term, URI.parse("http://x")}}
    end

    test "invalid UTF-8 in strings and keys" do
      assert JSON.encode(<<0xFF>>) == {:error, {:invalid_string, <<0xFF>>}}
      assert JSON.encode(["ok", <<"a", 0xC3>>]) == {:error, {:invalid_string, <<"a", 0xC3>>}}

      assert JSON.encode(<<0xED, 0xA0, 0x80>>) ==
               {:error, {:invalid_string, <<0xED, 0xA0, 0x80>>}}

      assert JSON.encode(%{<<0xC0, 0xAF>> => 1}) == {:error, {:invalid_string, <<0xC0, 0xAF>>}}
    end

    test "map keys must be binaries or atoms" do
      for key <- [1, 1.5, {:a}, [], %{}, <<1::3>>] do
        assert JSON.encode(%{key => 1}) == {:error, {:invalid_key, key}}, inspect(key)
      end
    end

    test "large terms are encoded exactly (dirty path)" do
      list = Enum.to_list(1..200_000)
      assert JSON.encode(list) == {:ok, "[" <> Enum.join(list, ",") <> "]"}

      strings = for i <- 1..20_000, do: "s#{i}\n"
      {:ok, json} = JSON.encode(strings)
      assert JSON.decode(json) == {:ok, strings}

      # an error found after the budget ran out is still reported
      assert JSON.encode(list ++ [{:late}]) == {:error, {:unsupported_term, {:late}}}
    end
  end

  describe "bang variants" do
    test "decode! returns the value or raises DecodeError" do
      assert JSON.decode!(~s({"a": 1})) == %{"a" => 1}

      assert_raise DecodeError, "invalid JSON at byte offset 4", fn -> JSON.decode!("[1] x") end

      assert_raise DecodeError, "invalid JSON: the input is not valid UTF-8", fn ->
        JSON.decode!(<<0xFF>>)
      end

      assert_raise DecodeError,
                   "cannot decode JSON: arrays and objects nest deeper than max_depth (2)",
                   fn -> JSON.decode!("[[[]]]", max_depth: 2) end

      assert_raise DecodeError,
                   "cannot decode JSON: the number at byte offset 1 is too large for a float",
                   fn -> JSON.decode!("[1e999]") end

      error = assert_raise DecodeError, fn -> JSON.decode!("") end
      assert error.reason == {:invalid_json, 0}
    end

    test "encode! returns the binary or raises EncodeError" do
      assert JSON.encode!(%{"a" => [1]}) == ~s({"a":[1]})

      assert_raise EncodeError, "cannot encode {:a, 1} as JSON: unsupported term", fn ->
        JSON.encode!([{:a, 1}])
      end

      assert_raise EncodeError, "cannot encode <<255>> as a JSON string: not valid UTF-8", fn ->
        JSON.encode!(<<255>>)
      end

      assert_raise EncodeError,
                   "cannot encode map key 1 as JSON: keys must be binaries or atoms",
                   fn -> JSON.encode!(%{1 => 2}) end

      assert_raise EncodeError,
                   "cannot encode as JSON: lists and maps nest deeper than max_depth (1)",
                   fn -> JSON.encode!([[]], max_depth: 1) end

      error = assert_raise EncodeError, fn -> JSON.encode!(self()) end
      assert error.reason == {:unsupported_term, self()}
    end
  end

  describe "scheduling" do
    # Which scheduler the NIFs ran on is read off the scheduling rule's own
    # counts (CouncilEx.Native.stats/0): the clock, here
    # :erlang.system_monitor's long_schedule, failed this test whenever a
    # busy machine preempted a scheduler thread. Other tests run alongside
    # (async), so the counts only bound it from below; load_test.exs
    # checks them exactly. The time the calls take is `make bench`'s.
    test "a 5 MB document decodes and re-encodes on dirty schedulers" do
      term =
        Enum.map(1..30_000, fn i ->
          %{
            "id" => i,
            "name" => "member #{i} — 日本 😀",
            "score" => i / 7,
            "tags" => ["alpha", "beta", nil, true, false],
            "nested" => %{"x" => [1, 2, 3, -4.5e-3], "y" => "\"quoted\"\n\ttext \\ more"}
          }
        end)

      before = CouncilEx.Native.stats().dirty_calls
      {:ok, json} = JSON.encode(term)
      {:ok, decoded} = JSON.decode(json)
      {:ok, json2} = JSON.encode(decoded)
      dirty = CouncilEx.Native.stats().dirty_calls

      assert byte_size(json) > 5_000_000
      assert json2 == json
      assert decoded == term
      assert dirty.json_encode - before.json_encode >= 2
      assert dirty.json_decode - before.json_decode >= 1
    end

    test "concurrent callers get their own results" do
      docs =
        for i <- 1..16 do
          small = %{"i" => i, "v" => List.duplicate(i, 10)}
          big = %{"i" => i, "v" => List.duplicate("x#{i}", 20_000)}
          if rem(i, 2) == 0, do: small, else: big
        end

      results =
        docs
        |> Task.async_stream(fn doc -> {doc, roundtrip(doc)} end,
          max_concurrency: 16,
          ordered: false
        )
        |> Enum.map(fn {:ok, pair} -> pair end)

      for {doc, decoded} <- results, do: assert(doc == decoded)

      errors =
        1..32
        |> Task.async_stream(fn i -> JSON.decode(String.duplicate("[", 100 + i) <> "x") end)
        |> Enum.map(fn {:ok, result} -> result end)

      assert Enum.all?(errors, &match?({:error, {:invalid_json, _}}, &1))
    end
  end

  defp mutate(doc, 0, _alphabet), do: doc

  defp mutate(doc, n, alphabet) do
    at = :rand.uniform(byte_size(doc)) - 1
    <<head::binary-size(at), _::8, tail::binary>> = doc
    byte = Enum.random(alphabet)

    doc =
      case :rand.uniform(3) do
        1 -> head <> <<byte>> <> tail
        2 -> head <> tail
        3 -> head <> <<byte>> <> binary_part(doc, at, 1) <> tail
      end

    mutate(doc, n - 1, alphabet)
  end
end
