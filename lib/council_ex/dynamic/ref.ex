defmodule CouncilEx.Dynamic.Ref do
  @moduledoc false
  # References to code inside dynamic councils, and their JSON form.
  #
  # A module is written to JSON as its full name ("Elixir.MyApp.Tool") and
  # a remote capture as Elixir source writes it ("&MyApp.Mappers.fun/1"). Reading them back never
  # creates an atom: a name only turns back into a module when that module
  # exists and loads, and otherwise stays a string (which then has to be a
  # registered name to pass validation). A capture only turns back into a
  # function that is registered as an input mapper.

  @doc "True for a module atom or a non-empty string name."
  def ref?(ref) when is_binary(ref), do: ref != ""
  def ref?(ref), do: module_atom?(ref)

  @doc "True for an atom that can name a module (not nil or a boolean)."
  def module_atom?(atom), do: is_atom(atom) and atom not in [nil, true, false]

  @doc "A module named by `\"Elixir.Name\"` when it exists and loads, otherwise the value itself."
  def module_or_name("Elixir." <> _ = name) do
    case existing_module(name) do
      {:ok, module} -> module
      :error -> name
    end
  end

  def module_or_name(other), do: other

  @doc "The module a full module name (`\"Elixir.Name\"` or an Erlang name) stands for, if loaded."
  def existing_module(name) when is_binary(name) do
    module = String.to_existing_atom(name)
    if Code.ensure_loaded?(module), do: {:ok, module}, else: :error
  rescue
    ArgumentError -> :error
  end

  @doc "The JSON form of a reference: modules by full name, strings as they are."
  def to_json(ref) when is_binary(ref), do: ref
  def to_json(module) when is_atom(module), do: Atom.to_string(module)

  @doc "True for a remote capture of a 1-arity function (`&Mod.fun/1`)."
  def remote_capture?(fun) when is_function(fun, 1),
    do: Function.info(fun, :type) == {:type, :external}

  def remote_capture?(_), do: false

  @doc """
  The JSON form of a remote capture, as Elixir writes it:
  `"&MyApp.Mappers.brief/1"`, or `"&:erlang_mod.fun/1"`.
  """
  def capture_to_json(fun) do
    info = Function.info(fun)

    "&" <>
      module_source(info[:module]) <>
      "." <>
      Atom.to_string(info[:name]) <>
      "/" <> Integer.to_string(info[:arity])
  end

  @doc "True for a remote capture (`&Mod.fun/arity`) of any arity."
  def remote_function?(fun) when is_function(fun),
    do: Function.info(fun, :type) == {:type, :external}

  def remote_function?(_), do: false

  @doc """
  The judge function a `"&Mod.fun/2"` string stands for, or the string.

  Only 2-arity functions of modules registered in `CouncilEx.Registry` as
  a `:router` are found (the modules a dynamic council may call into, as
  `until_ref` and `judge_ref` do), so JSON cannot name any function that
  happens to exist.
  """
  def judge_or_string("&" <> _ = string) do
    routers = CouncilEx.Registry.all(:router) |> Map.values() |> Enum.uniq()

    Enum.find_value(routers, string, fn module ->
      prefix = "&" <> module_source(module) <> "."

      with true <- String.starts_with?(string, prefix),
           name <- binary_part(string, byte_size(prefix), byte_size(string) - byte_size(prefix)),
           true <- String.ends_with?(name, "/2"),
           {:ok, fun} <- existing_atom(String.trim_trailing(name, "/2")),
           true <- Code.ensure_loaded?(module) and function_exported?(module, fun, 2) do
        Function.capture(module, fun, 2)
      else
        _ -> nil
      end
    end)
  end

  def judge_or_string(other), do: other

  defp existing_atom(name) do
    {:ok, String.to_existing_atom(name)}
  rescue
    ArgumentError -> :error
  end

  defp module_source(module) do
    case Atom.to_string(module) do
      "Elixir." <> name -> name
      name -> ":" <> name
    end
  end

  @doc """
  The function a `"&Mod.fun/1"` string stands for, or the string.

  Only functions registered in `CouncilEx.Registry` as an `:input_mapper`
  are found: an input mapper is called on run input, so JSON must not be
  able to name any function that happens to exist (`"&:os.cmd/1"`).
  """
  def capture_or_name("&" <> _ = string) do
    Enum.find(Map.values(CouncilEx.Registry.all(:input_mapper)), string, fn fun ->
      remote_capture?(fun) and capture_to_json(fun) == string
    end)
  end

  def capture_or_name(other), do: other
end
