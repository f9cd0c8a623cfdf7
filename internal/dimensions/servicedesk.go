package dimensions

// serviceDeskSources lists Jira Service Management's service desks, request types and organizations.
func serviceDeskSources() []Source { return nil }
