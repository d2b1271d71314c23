defmodule CouncilEx.Registry.Backend do
  @moduledoc """
  Storage for the runtime tier of `CouncilEx.Registry`.

  The backend holds what `CouncilEx.Registry.register/3` stores; entries
  from application config are read by the registry itself and never reach
  the backend. The default is `CouncilEx.Registry.ETS`; pick another with:

      config :council_ex, :registry_backend, MyApp.RegistryBackend

  Reads must not fail the caller: when the store is unavailable, `get/2`
  returns `nil` and `all/1` returns `%{}` (the registry then falls back to
  config). Writes return `{:error, reason}` instead.
  """

  @typedoc "A registry kind, see `CouncilEx.Registry.kinds/0`."
  @type kind :: CouncilEx.Registry.kind()

  @typedoc "A registry name."
  @type name :: String.t()

  @doc "The value stored under `{kind, name}`, or `nil`."
  @callback get(kind(), name()) :: term() | nil

  @doc "Stores `value` under `{kind, name}`, replacing any previous value."
  @callback put(kind(), name(), value :: term()) :: :ok | {:error, term()}

  @doc "Removes `{kind, name}`; removing a missing entry is `:ok`."
  @callback delete(kind(), name()) :: :ok | {:error, term()}

  @doc "Every stored entry of `kind`, as a map of name to value."
  @callback all(kind()) :: %{optional(name()) => term()}

  @doc "Removes every stored entry of every kind."
  @callback reset() :: :ok | {:error, term()}
end
