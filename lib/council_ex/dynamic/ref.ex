defmodule CouncilEx.Dynamic.Ref do
  @moduledoc false
  # References to code inside dynamic councils, and their JSON form.
  #
  # A module is written to JSON as its full name ("Elixir.MyApp.Tool") and
  # a remote capture as Elixir source writes it ("&MyApp.Mappers.fun/1"). Reading them back never
  # creates an atom, and never loads a module that is not of the kind
  # expected: a name only turns back into a module that exists and exports
  # what the place needs (a tool, a router, a round, an aggregator, or a
  # council made with `use CouncilEx`), read from its object code before
  # anything is loaded. Any other name stays a string
  # (which then has to be a registered name to pass validation). A capture
  # only turns back into a function that is registered as an input mapper.

  @doc "True for a module atom or a non-empty string name."
  def ref?(ref) when is_binary(ref), do: ref != ""
  def ref?(ref), do: module_atom?(ref)

  @doc "True for an atom that can name a module (not nil or a boolean)."
  def module_atom?(atom), do: is_atom(atom) and atom not in [nil, true, false]

  @typedoc "What a named module must be: a behaviour it declares, or `:council`."
  @type kind ::
          CouncilEx.Tool | CouncilEx.Router | CouncilEx.Round | CouncilEx.Aggregator | :council

  @doc """
  The module named by `\"Elixir.Name\"` when it exists and is a `kind`,
  otherwise the value itself.
  """
  @spec module_or_name(term(), kind()) :: term()
  def module_or_name("Elixir." <> _ = name, kind) do
    case existing_module(name, kind) do
      {:ok, module} -> module
      :error -> name
    end
  end

  def module_or_name(other, _kind), do: other

  @doc "The module a full module name stands for, if it exists and is a `kind` (then loaded)."
  @spec existing_module(String.t(), kind()) :: {:ok, module()} | :error
  def existing_module(name, kind) when is_binary(name) do
    with {:ok, module} <- existing_atom(name),
         true <- kind?(module, kind),
         true <- Code.ensure_loaded?(module) do
      {:ok, module}
    else
      _ -> :error
    end
  end

  @doc """
  True when `module` exists and is a `kind`: it exports the behaviour's
  required callbacks (a council: `__council__/0`). A module not loaded yet
  is read from its object code, and not loaded to tell.
  """
  @spec kind?(module(), kind()) :: boolean()
  def kind?(module, kind) when is_atom(module) do
    case exports(module) do
      {:ok, exports} -> Enum.all?(required(kind), &(&1 in exports))
      :error -> false
    end
  end

  def kind?(_other, _kind), do: false

  defp required(:council), do: [__council__: 0]

  defp required(behaviour),
    do: behaviour.behaviour_info(:callbacks) -- behaviour.behaviour_info(:optional_callbacks)

  defp exports(module) do
    case :code.is_loaded(module) do
      {:file, _} ->
        {:ok, module.module_info(:exports)}

      false ->
        with path when is_list(path) <- :code.which(module),
             {:ok, {^module, [exports: exports]}} <- :beam_lib.chunks(path, [:exports]) do
          {:ok, exports}
        else
          _ -> :error
        end
    end
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
