"""Market data: index, books, candles and option marks; pure pricing maths beside the agents."""
