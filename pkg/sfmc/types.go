package sfmc

import (
	"encoding/json"
	"time"
)

// AssetType is an asset's type as SFMC reports it ({"id":197,"name":"htmlblock"}).
type AssetType struct {
	ID          int    `json:"id"`
	Name        string `json:"name,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// CategoryRef is the folder reference embedded in an asset ({id, name, parentId}).
type CategoryRef struct {
	ID       int64  `json:"id"`
	Name     string `json:"name,omitempty"`
	ParentID int64  `json:"parentId,omitempty"`
}

// Asset is one Content Builder asset as returned by the API. The typed fields
// are decoded for the caller's convenience; Raw holds the item's JSON exactly as
// SFMC sent it (byte for byte), which is what a backup stores.
type Asset struct {
	ID          int64       `json:"id"`
	CustomerKey string      `json:"customerKey"`
	Name        string      `json:"name"`
	AssetType   AssetType   `json:"assetType"`
	Category    CategoryRef `json:"category"`
	Content     string      `json:"content"`
	// ModifiedDateRaw is the modifiedDate string as sent ("2024-07-15T10:02:11.6-06:00").
	ModifiedDateRaw string `json:"modifiedDate"`
	// ModifiedDate is ModifiedDateRaw parsed as an instant (offset honoured;
	// an offset-less value is read as -06:00).
	ModifiedDate time.Time `json:"-"`

	Raw json.RawMessage `json:"-"`
}

// Category is a Content Builder folder.
type Category struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	ParentID     int64  `json:"parentId"`
	CategoryType string `json:"categoryType,omitempty"`
	Description  string `json:"description,omitempty"`
}

// AssetQuery selects assets for Client.QueryAssets.
type AssetQuery struct {
	// TypeIDs restricts the asset types (assetType.id in …). Empty means all
	// types. Lists longer than 50 are split into several queries.
	TypeIDs []int
	// ModifiedSince, when not zero, selects assets whose modifiedDate is at or
	// after this instant (greaterThanOrEqual, sent with an explicit offset).
	ModifiedSince time.Time
	// Fields, when not empty, asks for a projection (id, customerKey, assetType,
	// name and modifiedDate are always requested as well). Empty returns full documents.
	Fields []string
	// PageSize overrides the client's page size (at most 500).
	PageSize int
	// Expect, when > 0, is about how many assets the caller expects (what
	// the last listing of the same query returned). A full listing (no
	// ModifiedSince) of unknown size, or expected to fill a few pages per
	// partition, sends the probes that plan its partitions together with
	// its first page; one expected to be short sends them only if its
	// first page shows it is long after all.
	Expect int
}
