defmodule CouncilEx.PubSub.Adapter do
  @moduledoc """
  A PubSub backend for run events (see `CouncilEx.PubSub`).

  `init/1` checks the configured options (and that the backend is there)
  and returns the config the other callbacks get.
  """

  @callback init(config :: term()) :: {:ok, term()} | {:error, term()}
  @callback subscribe(config :: term(), topic :: String.t()) :: :ok
  @callback unsubscribe(config :: term(), topic :: String.t()) :: :ok
  @callback broadcast(config :: term(), topic :: String.t(), message :: term()) :: :ok
end
