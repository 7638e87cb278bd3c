package zoomsandbox

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is the error body of Zoom's REST API.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// rateCategory is one of Zoom's rate-limit labels with a per-second limit.
// Zoom's limits depend on the account's plan. These values are examples in
// the range Zoom publishes, and the sandbox never enforces them.
type rateCategory struct {
	name  string
	limit int
}

var (
	rateLight  = rateCategory{name: "Light", limit: 30}
	rateMedium = rateCategory{name: "Medium", limit: 20}
)

// rateWindow counts the requests of one category in one second.
type rateWindow struct {
	second int64
	count  int
}

// setRateHeaders counts the request against its category and sets Zoom's
// rate-limit headers.
func (s *Sandbox) setRateHeaders(w http.ResponseWriter, c rateCategory) {
	second := s.now().Unix()
	s.mu.Lock()
	win := s.rates[c.name]
	if win.second != second {
		win = rateWindow{second: second}
	}
	win.count++
	s.rates[c.name] = win
	s.mu.Unlock()

	h := w.Header()
	h.Set("X-RateLimit-Category", c.name)
	h.Set("X-RateLimit-Type", "QPS")
	h.Set("X-RateLimit-Limit", strconv.Itoa(c.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(c.limit-win.count, 0)))
}

// authenticateBearer returns the user of the request's access token. When
// the token is missing, unknown, replaced or expired, it writes Zoom's 401
// and returns false.
func (s *Sandbox) authenticateBearer(w http.ResponseWriter, r *http.Request) (User, bool) {
	token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		token, found = strings.CutPrefix(r.Header.Get("Authorization"), "bearer ")
	}

	now := s.now()
	s.mu.Lock()
	g := s.access[token]
	var (
		user    User
		expired bool
	)
	if found && g != nil {
		user = g.user
		expired = !now.Before(g.accessExpires)
	}
	s.mu.Unlock()

	switch {
	case !found || g == nil:
		writeJSON(w, http.StatusUnauthorized, apiError{Code: 124, Message: "Invalid access token."})
		return User{}, false
	case expired:
		writeJSON(w, http.StatusUnauthorized, apiError{Code: 124, Message: "Access token is expired."})
		return User{}, false
	}
	return user, true
}

// userResponse holds the fields of Zoom's "get a user" response that the
// sandbox fills in.
type userResponse struct {
	ID                 string   `json:"id"`
	FirstName          string   `json:"first_name"`
	LastName           string   `json:"last_name"`
	DisplayName        string   `json:"display_name"`
	Email              string   `json:"email"`
	Type               int      `json:"type"`
	RoleName           string   `json:"role_name"`
	PMI                int64    `json:"pmi"`
	UsePMI             bool     `json:"use_pmi"`
	PersonalMeetingURL string   `json:"personal_meeting_url"`
	Timezone           string   `json:"timezone"`
	Verified           int      `json:"verified"`
	Dept               string   `json:"dept"`
	CreatedAt          string   `json:"created_at"`
	UserCreatedAt      string   `json:"user_created_at"`
	LastLoginTime      string   `json:"last_login_time"`
	Language           string   `json:"language"`
	PhoneNumber        string   `json:"phone_number"`
	Status             string   `json:"status"`
	RoleID             string   `json:"role_id"`
	AccountID          string   `json:"account_id"`
	AccountNumber      int64    `json:"account_number"`
	Cluster            string   `json:"cluster"`
	JID                string   `json:"jid"`
	GroupIDs           []string `json:"group_ids"`
	LoginTypes         []int    `json:"login_types"`
}

// userCreatedAt is every sandbox user's creation time.
const userCreatedAt = "2024-03-01T09:00:00Z"

func (s *Sandbox) handleUsersMe(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticateBearer(w, r)
	if !ok {
		return
	}
	s.setRateHeaders(w, rateLight)

	// Zoom role ids: "1" is Admin and "2" is Member.
	roleName, roleID := "Member", "2"
	if u.Admin {
		roleName, roleID = "Admin", "1"
	}
	pmi := numberFor(u.ID, 1_000_000_000)
	writeJSON(w, http.StatusOK, userResponse{
		ID:                 u.ID,
		FirstName:          u.FirstName,
		LastName:           u.LastName,
		DisplayName:        u.DisplayName(),
		Email:              u.Email,
		Type:               2, // licensed
		RoleName:           roleName,
		PMI:                pmi,
		PersonalMeetingURL: baseURL(r) + "/j/" + strconv.FormatInt(pmi, 10),
		Timezone:           "UTC",
		Verified:           1,
		CreatedAt:          userCreatedAt,
		UserCreatedAt:      userCreatedAt,
		LastLoginTime:      s.now().UTC().Format(time.RFC3339),
		Language:           "en-US",
		Status:             "active",
		RoleID:             roleID,
		AccountID:          u.AccountID,
		AccountNumber:      numberFor(u.AccountID, 100_000_000),
		Cluster:            "us06",
		JID:                strings.ToLower(u.ID) + "@xmpp.zoom.us",
		GroupIDs:           []string{},
		LoginTypes:         []int{100}, // Zoom work email
	})
}

// numberFor returns a number in [base, 10*base) derived from id, so the
// same id always gets the same number.
func numberFor(id string, base int64) int64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return base + int64(h.Sum64()%uint64(base*9))
}

// meeting holds the fields of a Zoom meeting that the sandbox returns.
type meeting struct {
	UUID      string `json:"uuid"`
	ID        int64  `json:"id"`
	HostID    string `json:"host_id"`
	Topic     string `json:"topic"`
	Type      int    `json:"type"`
	StartTime string `json:"start_time,omitempty"`
	Duration  int    `json:"duration"`
	Timezone  string `json:"timezone"`
	Agenda    string `json:"agenda,omitempty"`
	CreatedAt string `json:"created_at"`
	JoinURL   string `json:"join_url"`
}

type meetingList struct {
	PageSize      int       `json:"page_size"`
	TotalRecords  int       `json:"total_records"`
	NextPageToken string    `json:"next_page_token"`
	Meetings      []meeting `json:"meetings"`
}

// handleListMeetings returns two scheduled meetings, tomorrow and the day
// after. Meetings created through the sandbox are not stored or listed.
func (s *Sandbox) handleListMeetings(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticateBearer(w, r)
	if !ok {
		return
	}
	s.setRateHeaders(w, rateMedium)

	day := s.now().UTC().Truncate(24 * time.Hour)
	base := numberFor(u.ID, 10_000_000_000)
	list := meetingList{PageSize: 30, TotalRecords: 2, Meetings: []meeting{}}
	for i, topic := range []string{"Weekly sync", "Planning"} {
		id := base + int64(i)
		list.Meetings = append(list.Meetings, meeting{
			UUID:      "sbx" + strconv.FormatInt(id, 36) + "==",
			ID:        id,
			HostID:    u.ID,
			Topic:     topic,
			Type:      2, // scheduled
			StartTime: day.Add(time.Duration(i+1)*24*time.Hour + 15*time.Hour).Format(time.RFC3339),
			Duration:  30,
			Timezone:  "UTC",
			CreatedAt: userCreatedAt,
			JoinURL:   baseURL(r) + "/j/" + strconv.FormatInt(id, 10),
		})
	}
	writeJSON(w, http.StatusOK, list)
}

// createMeetingRequest holds the fields of Zoom's "create a meeting" body
// that the sandbox echoes.
type createMeetingRequest struct {
	Topic     string `json:"topic"`
	Type      int    `json:"type"`
	StartTime string `json:"start_time"`
	Duration  int    `json:"duration"`
	Timezone  string `json:"timezone"`
	Agenda    string `json:"agenda"`
}

// handleCreateMeeting returns 201 Created with the meeting from the JSON
// body. It stores nothing.
func (s *Sandbox) handleCreateMeeting(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticateBearer(w, r)
	if !ok {
		return
	}
	s.setRateHeaders(w, rateLight)

	var req createMeetingRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Code: 300, Message: "Request Body should be a valid JSON object."})
		return
	}
	switch req.Type {
	case 0:
		req.Type = 2 // Zoom's default: a scheduled meeting
	case 1, 2, 3, 8:
	default:
		writeJSON(w, http.StatusBadRequest, apiError{Code: 300, Message: "Invalid field: type."})
		return
	}
	if req.Topic == "" {
		req.Topic = "Zoom meeting"
	}
	if req.Timezone == "" {
		req.Timezone = "UTC"
	}

	s.mu.Lock()
	s.meetings++
	id := 81_000_000_000 + s.meetings
	s.mu.Unlock()

	writeJSON(w, http.StatusCreated, meeting{
		UUID:      "sbx" + strconv.FormatInt(id, 36) + "==",
		ID:        id,
		HostID:    u.ID,
		Topic:     req.Topic,
		Type:      req.Type,
		StartTime: req.StartTime,
		Duration:  req.Duration,
		Timezone:  req.Timezone,
		Agenda:    req.Agenda,
		CreatedAt: s.now().UTC().Format(time.RFC3339),
		JoinURL:   baseURL(r) + "/j/" + strconv.FormatInt(id, 10),
	})
}

// handleAPINotFound returns 404 for every other /v2 request, after checking
// its token as Zoom's gateway does.
//
// NOTE: Zoom's body for an unknown API path is not documented; this shape
// and code 404 are assumptions.
func (s *Sandbox) handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authenticateBearer(w, r); !ok {
		return
	}
	writeJSON(w, http.StatusNotFound, apiError{
		Code:    404,
		Message: "Not found: the Zoom sandbox has no API " + r.Method + " " + r.URL.Path + ".",
	})
}
