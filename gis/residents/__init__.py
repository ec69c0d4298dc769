"""The residents' voice (居民参与): consultations (征求居民意见) with the Civil Code's voting rule as
data, notices (公示) and the public's feedback on a compound, held for moderation.

Above the evidence floor: a notice shows the compound's accepted evidence.
"""
