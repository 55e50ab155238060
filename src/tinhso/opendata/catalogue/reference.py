"""The catalogue's reference lists: licences and themes (groups), loaded idempotently.

The themes are twelve broad national subject areas under which Vietnamese open data portals
group datasets; the list here is this platform's own wording of them (the province may edit
it). The "Giấy phép dữ liệu mở Việt Nam" entry is an attribution text in the spirit of the
open data rules (cite the source, do not misrepresent it), written for this platform; it is
not an official instrument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from tinhso.opendata.models import OpendataGroup, OpendataLicence

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# (id, title vi, title en, url, attribution vi, attribution en)
LICENCES = (
    (
        "cc-by-4.0",
        "Creative Commons Ghi công 4.0 Quốc tế (CC BY 4.0)",
        "Creative Commons Attribution 4.0 International (CC BY 4.0)",
        "https://creativecommons.org/licenses/by/4.0/",
        (
            "Được tự do sao chép, phân phối và sửa đổi, kể cả cho mục đích thương mại, "
            "với điều kiện ghi rõ nguồn."
        ),
        (
            "Free to copy, redistribute and adapt, commercially too, as long as the source is "
            "credited."
        ),
    ),
    (
        "odc-by",
        "Giấy phép Ghi công Open Data Commons (ODC-By 1.0)",
        "Open Data Commons Attribution License (ODC-By 1.0)",
        "https://opendatacommons.org/licenses/by/1-0/",
        "Được tự do dùng, chia sẻ và sửa đổi cơ sở dữ liệu, với điều kiện ghi rõ nguồn.",
        "Free to use, share and adapt the database, as long as the source is credited.",
    ),
    (
        "vn-open-data",
        "Giấy phép dữ liệu mở Việt Nam (ghi nguồn)",
        "Vietnam open data licence (attribution)",
        "",
        (
            "Dữ liệu mở do cơ quan nhà nước công bố: được khai thác, sử dụng, chia sẻ miễn phí; "
            "phải trích dẫn nguồn (tên cơ quan công bố, tên bộ dữ liệu, ngày truy cập) và "
            "không được làm sai lệch nội dung dữ liệu."
        ),
        (
            "Open data published by a state agency: free to use, reuse and share; cite the source "
            "(publishing agency, dataset title, date accessed) and do not misrepresent the data."
        ),
    ),
)

# (name, title vi, title en)
THEMES = (
    ("dan-cu-lao-dong", "Dân cư, lao động và việc làm", "Population, labour and employment"),
    ("kinh-te-tai-chinh", "Kinh tế và tài chính", "Economy and finance"),
    ("nong-nghiep", "Nông nghiệp và phát triển nông thôn", "Agriculture and rural development"),
    ("giao-duc", "Giáo dục và đào tạo", "Education and training"),
    ("y-te", "Y tế và sức khỏe", "Health"),
    ("giao-thong", "Giao thông và vận tải", "Transport"),
    ("tai-nguyen-moi-truong", "Tài nguyên và môi trường", "Natural resources and environment"),
    ("dat-dai-xay-dung", "Đất đai, xây dựng và đô thị", "Land, construction and urban planning"),
    ("van-hoa-du-lich", "Văn hóa, thể thao và du lịch", "Culture, sports and tourism"),
    ("khoa-hoc-cong-nghe", "Khoa học, công nghệ và thông tin", "Science, technology and ICT"),
    ("hanh-chinh-cong", "Hành chính công và dịch vụ công", "Public administration and services"),
    ("xa-hoi-an-sinh", "An sinh xã hội", "Social welfare"),
)


def load_reference(session: Session) -> None:
    """Add the licences and themes that are missing (existing rows are left as edited)."""
    licences = set(session.scalars(select(OpendataLicence.id)))
    for licence_id, title_vi, title_en, url, attribution_vi, attribution_en in LICENCES:
        if licence_id not in licences:
            session.add(
                OpendataLicence(
                    id=licence_id,
                    title_vi=title_vi,
                    title_en=title_en,
                    url=url,
                    attribution_vi=attribution_vi,
                    attribution_en=attribution_en,
                )
            )
    groups = set(session.scalars(select(OpendataGroup.name)))
    for name, title_vi, title_en in THEMES:
        if name not in groups:
            session.add(OpendataGroup(name=name, title_vi=title_vi, title_en=title_en))
    session.flush()
