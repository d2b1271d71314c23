defmodule CouncilEx.Context do
  @moduledoc """
  What rounds, routers and `until` functions are told about the run so far:
  the original input, the rounds completed (oldest first), and the run's id
  and council.
  """

  @typedoc "The run as seen between rounds."
  @type t :: %__MODULE__{
          run_id: String.t(),
          council: module() | String.t(),
          input: term(),
          prior_rounds: [CouncilEx.RoundResult.t()],
          round_idx: non_neg_integer(),
          round_name: atom() | nil,
          metadata: map()
        }

  defstruct [
    :run_id,
    :council,
    :input,
    round_idx: 0,
    round_name: nil,
    prior_rounds: [],
    metadata: %{}
  ]
end
