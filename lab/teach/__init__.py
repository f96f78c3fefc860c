"""Teaching: the scenarios a student triggers, the quiz, and the engine that
judges the exercises by what the lab does."""
