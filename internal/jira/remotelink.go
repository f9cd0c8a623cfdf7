package jira

// RemoteLink is a link from an issue to something outside Jira, as GET
// /rest/api/3/issue/{key}/remotelink lists them. Its id is a JSON number.
type RemoteLink struct {
	ID           ID                 `json:"id"`
	Self         string             `json:"self,omitempty"`
	GlobalID     string             `json:"globalId,omitempty"`
	Application  *RemoteApplication `json:"application,omitempty"`
	Relationship string             `json:"relationship,omitempty"`
	Object       RemoteObject       `json:"object"`
}

// RemoteApplication names the application a remote link points into.
type RemoteApplication struct {
	Type string `json:"type,omitempty"`
	Name string `json:"name,omitempty"`
}

// RemoteObject is what a remote link points at.
type RemoteObject struct {
	URL     string        `json:"url"`
	Title   string        `json:"title,omitempty"`
	Summary string        `json:"summary,omitempty"`
	Icon    *RemoteIcon   `json:"icon,omitempty"`
	Status  *RemoteStatus `json:"status,omitempty"`
}

// RemoteIcon is the icon of a remote object or of its status.
type RemoteIcon struct {
	URL16x16 string `json:"url16x16,omitempty"`
	Title    string `json:"title,omitempty"`
	Link     string `json:"link,omitempty"`
}

// RemoteStatus says whether the remote object is resolved.
type RemoteStatus struct {
	Resolved bool        `json:"resolved"`
	Icon     *RemoteIcon `json:"icon,omitempty"`
}
