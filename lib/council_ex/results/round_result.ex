defmodule CouncilEx.RoundResult do
  @moduledoc "The outcome of one round: every seated member's `%CouncilEx.MemberResult{}`."

  @typedoc "A round's result; `member_results` keeps the members' order."
  @type t :: %__MODULE__{
          name: atom(),
          idx: non_neg_integer(),
          member_results: [{atom(), CouncilEx.MemberResult.t()}],
          aggregated: map() | nil,
          metadata: map()
        }

  defstruct [:name, :idx, member_results: [], aggregated: nil, metadata: %{}]
end
