-- The party index now also holds each named party's name in the case's village (the person
-- page's match without a number). Emptied here so that the store fills it again, with the new
-- keys, when it opens.
DELETE FROM party_keys;
