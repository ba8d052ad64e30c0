"""The Compare page's parts: which view each side shows (choice), the two linked maps (maps, with
link.js for hover), and the rows whose neighbourhoods moved most (movers). The logic is core.compare."""
