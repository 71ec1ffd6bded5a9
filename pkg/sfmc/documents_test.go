package sfmc

import (
	"encoding/json"
	"testing"
)

func TestErrorRecognition(t *testing.T) {
	name := &APIError{StatusCode: 400, Code: 10006, ValidationErrors: []ValidationError{{Code: 10005,
		Message: "Asset names within a category and asset type must be unique. Footer is already taken. Suggested name: Footer (1)"}}}
	key := &APIError{StatusCode: 400, Code: 10006, ValidationErrors: []ValidationError{{Code: 10005,
		Message: "Asset CustomerKey must be unique within the enterprise. k is already taken."}}}
	if !name.NameTaken() || name.KeyTaken() || !key.KeyTaken() || key.NameTaken() {
		t.Fatal("name and key collisions not told apart")
	}
	if s, ok := name.SuggestedName(); !ok || s != "Footer (1)" {
		t.Fatalf("suggested name %q", s)
	}
	// The text alone does not make a validation error: a 500 or a 429 that
	// happens to mention a name is not a collision.
	for _, e := range []*APIError{
		{StatusCode: 500, Code: 0, Message: "name must be unique. Suggested name: x"},
		{StatusCode: 429, Code: 50200, Message: "customerKey already in use"},
		{StatusCode: 400, Code: 10004, Message: "Error: 'customerKey unique' is not a valid property name"},
	} {
		if e.NameTaken() || e.KeyTaken() {
			t.Errorf("%v taken for a collision", e)
		}
		if _, ok := e.SuggestedName(); ok {
			t.Errorf("%v gave a suggested name", e)
		}
	}
}

func TestCreateBodyStripsReadOnlyFields(t *testing.T) {
	d, err := decodeTestDoc([]byte(`{"id":1,"objectID":"o","customerKey":"k","name":"N","assetType":{"id":28,"name":"png"},
		"category":{"id":3,"name":"X","parentId":1},"owner":{},"createdDate":"d","modifiedDate":"d","createdBy":{},"modifiedBy":{},
		"enterpriseId":1,"memberId":2,"thumbnail":{},"legacyData":{},"sharingProperties":{},"businessUnitAvailability":{},
		"fileProperties":{"fileName":"a.png","extension":"png","fileSize":3,"fileCreatedDate":"d","publishedURL":"u","width":1,"height":1},
		"content":"c","meta":{"m":1},"status":{"id":1,"name":"Draft"}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(CreateBody(d, 9))
	want := `{"assetType":{"id":28,"name":"png"},"category":{"id":9},"content":"c","customerKey":"k","fileProperties":{"extension":"png","fileName":"a.png"},"meta":{"m":1},"name":"N","status":{"id":1,"name":"Draft"}}`
	if string(b) != want {
		t.Fatalf("body\n%s\nwant\n%s", b, want)
	}
}

func decodeTestDoc(raw []byte) (map[string]json.RawMessage, error) {
	var d map[string]json.RawMessage
	err := json.Unmarshal(raw, &d)
	return d, err
}
