"""What "linked to" means, in one place.

- rule.py: the rule itself (which claims, which direction, how many steps) and
  its description for the schema;
- walked.py: the rule as Cypher that walks the claims;
- stored.py: the stored closure the walk's answers are kept in, and when it
  may answer instead;
- answer.py: incidents linked to a bound `target`, in answer order, from
  whichever form answers, with each one's evidence path;
- upkeep.py: keeping the stored closure equal to the walk as writes happen.

Change what "linked to" means in rule.py; everything else follows from it.
"""
