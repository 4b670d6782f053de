//! Name lists of the synthetic population, with weights (relative frequencies).
//!
//! Family-name shares follow the commonly cited survey figures for Vietnam (Nguyễn ≈ 38%,
//! Trần ≈ 11%, Lê ≈ 9.5%, Phạm ≈ 7%, Hoàng/Huỳnh ≈ 5%, Phan ≈ 4.5%, Vũ/Võ ≈ 4%, …), in
//! tenths of a percent; the remainder is spread over less common names. Changing a list or
//! a weight changes every generated population: the determinism test will say so.

/// `(family name, weight in ‰)`.
pub(super) const FAMILY_NAMES: &[(&str, u32)] = &[
    ("Nguyễn", 384),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 71),
    ("Hoàng", 30),
    ("Huỳnh", 21),
    ("Phan", 45),
    ("Vũ", 20),
    ("Võ", 19),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đinh", 10),
    ("Trương", 10),
    ("Đào", 9),
    ("Lâm", 8),
    ("Mai", 8),
    ("Trịnh", 8),
    ("Cao", 7),
    ("Hà", 7),
    ("Lưu", 6),
    ("Tạ", 5),
    ("Tô", 5),
    ("Lương", 5),
    ("Châu", 4),
    ("Quách", 3),
    ("Kiều", 3),
    ("Thái", 3),
];

/// `(middle name, weight)` for men.
pub(super) const MALE_MIDDLE_NAMES: &[(&str, u32)] = &[
    ("Văn", 40),
    ("Đức", 10),
    ("Minh", 10),
    ("Quang", 8),
    ("Hữu", 8),
    ("Công", 6),
    ("Thanh", 5),
    ("Xuân", 4),
    ("Anh", 3),
    ("Đình", 3),
    ("Tuấn", 3),
];

/// `(middle name, weight)` for women.
pub(super) const FEMALE_MIDDLE_NAMES: &[(&str, u32)] = &[
    ("Thị", 45),
    ("Ngọc", 10),
    ("Thu", 7),
    ("Thanh", 6),
    ("Minh", 6),
    ("Kim", 5),
    ("Phương", 5),
    ("Mai", 4),
    ("Hồng", 4),
    ("Thị Thu", 4),
    ("Bảo", 4),
];

/// Given names for men (equal weights).
pub(super) const MALE_GIVEN_NAMES: &[&str] = &[
    "Anh", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy",
    "Khánh", "Khoa", "Kiên", "Long", "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Quang",
    "Sơn", "Tài", "Thắng", "Thành", "Trung", "Tuấn", "Tùng", "Việt", "Vinh",
];

/// Given names for women (equal weights).
pub(super) const FEMALE_GIVEN_NAMES: &[&str] = &[
    "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hương", "Huyền", "Lan",
    "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Oanh", "Phương", "Quỳnh",
    "Thảo", "Thu", "Thủy", "Trang", "Tuyết", "Uyên", "Vân", "Yến",
];
