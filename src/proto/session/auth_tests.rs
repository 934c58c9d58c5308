//! Byte-exact AUTH dialogues: every mechanism right and wrong, cancels, sequence errors, rules.
