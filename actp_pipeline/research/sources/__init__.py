"""Research sources: every way market items reach ACTP, behind one interface (`base.Source`)."""
