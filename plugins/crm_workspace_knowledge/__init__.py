"""Knowledge base: articles in Markdown, search, a public help centre."""
