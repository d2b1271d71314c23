defmodule CouncilEx.Rounds.Iterate do
  @moduledoc """
  Runs another round repeatedly.

  ## Options

    * `:wrap` - the round to repeat: a built-in name or module (required).
    * `:wrap_opts` - that round's options (default `[]`).
    * `:max_iterations` - the most iterations (default 3).
    * `:until` - `fn previous_round_result, current_round_result -> boolean end`;
      the iteration stops when it returns true. In a `CouncilEx.DynamicCouncil`
      use `:until_ref`, a name registered as a `:router` whose module
      exports `until/2`.

  Without `:until` the wrapped round's own convergence rule applies: a text
  round converges when no member changed its answer, a vote when it is
  unanimous, `:pairwise_elimination` when one member remains. Each iteration
  is reported as its own round (same name, next index).
  """

  @doc "The round's name in events and results."
  @spec name() :: :iterate
  def name, do: :iterate
end
