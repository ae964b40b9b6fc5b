"""What ``y`` can hold: the values of ``y_kind`` (:func:`cramcog.dynamics.data.convert_y` reads
it). No imports, so the command line can offer them without loading the fitting stack.

Examples
--------
>>> "successes" in Y_KINDS
True
"""

#: proportions in [0, 1], counts of successes out of n, percentages, a measurement, response
#: times (positive, right-skewed: a log-normal likelihood); or guess
Y_KINDS = ("auto", "proportion", "successes", "percent", "value", "rt")
