defmodule CouncilEx.Member do
  @moduledoc """
  A member's identity: its role and system prompt, kept apart from the
  capabilities (provider, model, sampling) given where the member is seated.

      defmodule MyApp.Members.Skeptic do
        use CouncilEx.Member
        role "skeptic"
        system_prompt "You look for what could go wrong. Be concrete."
      end
  """

  @doc "The member's role, a short noun phrase."
  @callback role() :: String.t()
  @doc "The member's system prompt, or nil."
  @callback system_prompt() :: String.t() | nil

  defmacro __using__(_opts) do
    quote do
      @behaviour CouncilEx.Member
      import CouncilEx.Member, only: [role: 1, system_prompt: 1]
      @council_role nil
      @council_system_prompt nil
      @before_compile CouncilEx.Member
    end
  end

  @doc "Sets the member's role."
  defmacro role(text), do: quote(do: @council_role(unquote(text)))

  @doc "Sets the member's system prompt."
  defmacro system_prompt(text), do: quote(do: @council_system_prompt(unquote(text)))

  defmacro __before_compile__(env) do
    role =
      Module.get_attribute(env.module, :council_role) ||
        env.module |> Module.split() |> List.last()

    quote do
      @impl CouncilEx.Member
      def role, do: unquote(role)
      @impl CouncilEx.Member
      def system_prompt, do: @council_system_prompt
    end
  end

  @doc false
  # The prompt a seat is given: explicit :system_prompt, else the module's,
  # else one made from its role.
  @spec prompt_for(module() | nil, keyword()) :: String.t() | nil
  def prompt_for(module, opts) do
    cond do
      is_binary(opts[:system_prompt]) ->
        opts[:system_prompt]

      module == nil or is_struct(module) ->
        nil

      Code.ensure_loaded?(module) and function_exported?(module, :system_prompt, 0) ->
        module.system_prompt() || role_prompt(module)

      true ->
        nil
    end
  end

  defp role_prompt(module) do
    if function_exported?(module, :role, 0), do: "You are the council's #{module.role()}."
  end
end
