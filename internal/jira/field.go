package jira

// Field describes a system or custom field, as GET /rest/api/3/field lists
// them.
type Field struct {
	ID     string       `json:"id"`
	Key    string       `json:"key,omitempty"`
	Name   string       `json:"name"`
	Custom bool         `json:"custom"`
	Schema *FieldSchema `json:"schema,omitempty"`
}

// FieldSchema is the type of a field's values. Custom is the plug-in type of a
// custom field, such as SLAFieldType.
type FieldSchema struct {
	Type     string `json:"type"`
	Items    string `json:"items,omitempty"`
	Custom   string `json:"custom,omitempty"`
	CustomID int64  `json:"customId,omitempty"`
	System   string `json:"system,omitempty"`
}

// IsSLAField reports whether the field holds Jira Service Management SLA values.
func (f Field) IsSLAField() bool {
	return f.Schema != nil && f.Schema.Custom == SLAFieldType
}
