"""The quarterly assessment of the streets (考核): a scheme as data (items, weights, formulas over
the programme's, the funds' and the residents' own figures, and manual items with evidence), the
quarter's scores and ranking, locked once published.
"""
