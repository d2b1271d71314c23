defmodule CouncilEx.Councils do
  @moduledoc """
  Prebuilt council shapes. Each module has `new/1`, which defines a council
  module (`use CouncilEx`, named by `:as` or a unique name) and returns it,
  and `new_dynamic/1`, which builds the same shape as a
  `%CouncilEx.DynamicCouncil{}`.

  | Module | Rounds |
  |---|---|
  | `CouncilEx.Councils.ParallelPanel` | independent analysis → chair |
  | `CouncilEx.Councils.PeerReview` | drafts → critique → peer review → chair |
  | `CouncilEx.Councils.Voting` | independent analysis → vote → chair |
  | `CouncilEx.Councils.Specialist` | independent analysis → peer review → chair |
  | `CouncilEx.Councils.Consensus` | independent analysis → iterated critique → chair |
  | `CouncilEx.Councils.Tournament` | independent analysis → iterated pairwise elimination → chair |
  | `CouncilEx.Councils.WeightedConsensus` | independent analysis → weighted synthesis (chair) |
  | `CouncilEx.Councils.JuryWithRetry` | independent analysis, re-run while confidence is low → chair |
  | `CouncilEx.Councils.LLMCouncil` | independent analysis → anonymized peer ranking → chair |
  """
end
