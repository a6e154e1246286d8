"""The sender's pure logic: retry keys, classifying LINE's answers, rate budgets, send decisions."""
