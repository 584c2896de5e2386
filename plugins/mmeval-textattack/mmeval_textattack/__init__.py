"""mmeval plugin: text attacks on vision-language models, built from TextAttack, offline."""
