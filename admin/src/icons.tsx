import ArticleIcon from '@mui/icons-material/Article';
import AssessmentIcon from '@mui/icons-material/Assessment';
import CategoryIcon from '@mui/icons-material/Category';
import CommentIcon from '@mui/icons-material/Comment';
import CreditCardIcon from '@mui/icons-material/CreditCard';
import DescriptionIcon from '@mui/icons-material/Description';
import EmailIcon from '@mui/icons-material/Email';
import EventIcon from '@mui/icons-material/Event';
import FolderIcon from '@mui/icons-material/Folder';
import GroupsIcon from '@mui/icons-material/Groups';
import HistoryIcon from '@mui/icons-material/History';
import ImageIcon from '@mui/icons-material/Image';
import Inventory2Icon from '@mui/icons-material/Inventory2';
import KeyIcon from '@mui/icons-material/Key';
import LabelIcon from '@mui/icons-material/Label';
import LocalOfferIcon from '@mui/icons-material/LocalOffer';
import LocalShippingIcon from '@mui/icons-material/LocalShipping';
import PeopleIcon from '@mui/icons-material/People';
import PersonIcon from '@mui/icons-material/Person';
import ReceiptLongIcon from '@mui/icons-material/ReceiptLong';
import SettingsIcon from '@mui/icons-material/Settings';
import ShoppingCartIcon from '@mui/icons-material/ShoppingCart';
import StarIcon from '@mui/icons-material/Star';
import StoreIcon from '@mui/icons-material/Store';
import ViewListIcon from '@mui/icons-material/ViewList';
import WorkIcon from '@mui/icons-material/Work';
import type { SvgIconProps } from '@mui/material';
import type SvgIcon from '@mui/material/SvgIcon';
import type { ComponentType } from 'react';
import type { AdminIcon } from './schema';

type IconComponent = typeof SvgIcon;

/**
 * The resource icons the server may name (`admin.icon`), imported one by one so the bundle carries only
 * these: the type makes this table list exactly the server's `ADMIN_ICONS`.
 */
const ICONS: Record<AdminIcon, IconComponent> = {
  Article: ArticleIcon,
  Assessment: AssessmentIcon,
  Category: CategoryIcon,
  Comment: CommentIcon,
  CreditCard: CreditCardIcon,
  Description: DescriptionIcon,
  Email: EmailIcon,
  Event: EventIcon,
  Folder: FolderIcon,
  Groups: GroupsIcon,
  History: HistoryIcon,
  Image: ImageIcon,
  Inventory2: Inventory2Icon,
  Key: KeyIcon,
  Label: LabelIcon,
  LocalOffer: LocalOfferIcon,
  LocalShipping: LocalShippingIcon,
  People: PeopleIcon,
  Person: PersonIcon,
  ReceiptLong: ReceiptLongIcon,
  Settings: SettingsIcon,
  ShoppingCart: ShoppingCartIcon,
  Star: StarIcon,
  Store: StoreIcon,
  ViewList: ViewListIcon,
  Work: WorkIcon,
};

// Each icon marks itself with its name (`data-icon="ShoppingCart"`): MUI's own test ids are left out of
// production builds, and tests and the browser's inspector still tell the icons apart.
const NAMED = Object.fromEntries(
  Object.entries(ICONS).map(([name, Icon]) => {
    const Named = (props: SvgIconProps) => <Icon data-icon={name} {...props} />;
    Named.displayName = `${name}Icon`;
    return [name, Named];
  }),
) as Record<AdminIcon, ComponentType<SvgIconProps>>;

/** A resource's icon component (the default list icon for a name this build does not know). */
export function iconOf(name: AdminIcon | undefined): ComponentType<SvgIconProps> {
  return (name && NAMED[name]) || NAMED.ViewList;
}
