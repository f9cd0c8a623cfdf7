package dimensions

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira/client"
)

// TestResolveSprints: the sprints a ticket names that no board lists are
// looked up by id (GET /rest/agile/1.0/sprint/{id}, Atlassian's documented
// example); those Jira does not know or hides are left out, what is no
// sprint id is not asked for, and any other failure fails the lookup.
func TestResolveSprints(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Path)
		switch strings.TrimPrefix(r.URL.Path, "/rest/agile/1.0/sprint/") {
		case "37":
			fmt.Fprint(w, `{"id":37,"self":"https://your-domain.atlassian.net/rest/agile/1.0/sprint/23","state":"closed","name":"sprint 1",
				"startDate":"2015-04-11T15:22:00.000+10:00","endDate":"2015-04-20T01:22:00.000+10:00",
				"completeDate":"2015-04-20T11:04:00.000+10:00","originBoardId":5,"goal":"sprint 1 goal"}`)
		case "38":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errorMessages":["Sprint does not exist or you do not have permission to see it."],"errors":{}}`)
		case "39":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"errorMessages":["You do not have permission."],"errors":{}}`)
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"errorMessages":["bad request"],"errors":{}}`)
		}
	}))
	defer srv.Close()
	c, err := client.New(client.Options{BaseURL: srv.URL, Email: "a@example.test", APIToken: "t", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Lookup("sprints")
	tests := []struct {
		name    string
		ids     []string
		want    []string
		asked   int
		wantErr bool
	}{
		{"a sprint of a deleted board", []string{"37"}, []string{"37|5|sprint 1|closed|2015-04-11T05:22:00Z|2015-04-19T15:22:00Z|2015-04-20T01:04:00Z|sprint 1 goal"}, 1, false},
		{"unknown and hidden sprints", []string{"38", "39"}, nil, 2, false},
		{"no sprint id", []string{"sprint 1", "-3", ""}, nil, 0, false},
		{"a failing lookup", []string{"37", "40"}, nil, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked = nil
			objs, err := s.Resolve(context.Background(), c, tt.ids)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if len(asked) != tt.asked {
				t.Errorf("got %d calls %v, want %d", len(asked), asked, tt.asked)
			}
			if tt.wantErr {
				return
			}
			var got []string
			for _, o := range objs {
				row, err := s.Row(o)
				if err != nil {
					t.Fatal(err)
				}
				parts := make([]string, len(row))
				for i, v := range row {
					if tm, ok := v.(time.Time); ok {
						v = tm.UTC().Format(time.RFC3339)
					}
					parts[i] = fmt.Sprint(v)
				}
				got = append(got, strings.Join(parts, "|"))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
